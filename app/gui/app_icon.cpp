#include "app_icon.h"

#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

namespace ipsapp {

QIcon appIcon() {
    QIcon icon;
    for (int size : {16, 32, 48, 64, 128, 256}) {
        QPixmap pixmap(size, size);
        pixmap.fill(Qt::transparent);
        QPainter p(&pixmap);
        p.setRenderHint(QPainter::Antialiasing);
        const QRectF r(size * 0.04, size * 0.04, size * 0.92, size * 0.92);
        QLinearGradient g(r.topLeft(), r.bottomRight());
        g.setColorAt(0, QColor(94, 53, 177));
        g.setColorAt(1, QColor(30, 136, 229));
        p.setBrush(g);
        p.setPen(Qt::NoPen);
        p.drawRoundedRect(r, size * 0.2, size * 0.2);
        // Two overlapping frames: a reference picture guiding a new one.
        p.setPen(QPen(QColor(255, 255, 255, 230), std::max(1.0, size * 0.06)));
        p.setBrush(Qt::NoBrush);
        p.drawRoundedRect(QRectF(size * 0.2, size * 0.22, size * 0.38, size * 0.38), size * 0.05, size * 0.05);
        p.setBrush(QColor(255, 255, 255, 90));
        p.drawRoundedRect(QRectF(size * 0.42, size * 0.42, size * 0.38, size * 0.38), size * 0.05, size * 0.05);
        p.end();
        icon.addPixmap(pixmap);
    }
    return icon;
}

}  // namespace ipsapp
