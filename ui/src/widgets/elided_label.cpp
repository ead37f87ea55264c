#include "elided_label.h"

#include <QFontMetrics>
#include <QResizeEvent>

namespace ipsui {

ElidedLabel::ElidedLabel(const QString& text, QWidget* parent) : QLabel(parent) {
    setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    setFullText(text);
}

void ElidedLabel::setFullText(const QString& text) {
    full_ = text;
    setToolTip(text);
    updateElided();
}

QSize ElidedLabel::minimumSizeHint() const { return {fontMetrics().averageCharWidth() * 4, QLabel::minimumSizeHint().height()}; }

QSize ElidedLabel::sizeHint() const {
    return {std::min(fontMetrics().horizontalAdvance(full_) + 4, fontMetrics().averageCharWidth() * 40), QLabel::sizeHint().height()};
}

void ElidedLabel::resizeEvent(QResizeEvent* event) {
    QLabel::resizeEvent(event);
    updateElided();
}

void ElidedLabel::updateElided() { setText(fontMetrics().elidedText(full_, Qt::ElideMiddle, std::max(0, contentsRect().width()))); }

}  // namespace ipsui
