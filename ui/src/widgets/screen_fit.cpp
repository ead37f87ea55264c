#include "screen_fit.h"

#include <QScreen>
#include <QWidget>

#include <algorithm>

namespace ipsui {

QSize sizeWithinScreen(QSize wanted, QSize minimum, QRect available, QSize frame) {
    if (!available.isValid()) return wanted;
    const QSize room = available.size() - frame;
    return {std::max(std::min(wanted.width(), room.width()), minimum.width()),
            std::max(std::min(wanted.height(), room.height()), minimum.height())};
}

void fitWindowToScreen(QWidget* window) {
    QScreen* screen = window->screen();
    if (!screen) return;
    const QRect available = screen->availableGeometry();
    // Before the first show the frame is unknown (the window manager adds it): assume a usual title bar.
    const QSize frame = window->isVisible() ? window->frameGeometry().size() - window->geometry().size() : QSize(8, 32);
    const QSize fitted = sizeWithinScreen(window->size(), window->minimumSizeHint().expandedTo(window->minimumSize()),
                                          available, frame);
    if (fitted != window->size()) window->resize(fitted);
    const QRect frameRect(window->pos(), fitted + frame);
    if (!available.contains(frameRect)) {
        const int x = std::clamp(frameRect.x(), available.left(), std::max(available.left(), available.right() + 1 - frameRect.width()));
        const int y = std::clamp(frameRect.y(), available.top(), std::max(available.top(), available.bottom() + 1 - frameRect.height()));
        window->move(x, y);
    }
}

}  // namespace ipsui
