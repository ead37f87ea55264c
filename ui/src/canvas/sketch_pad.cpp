#include "sketch_pad.h"

#include <QMouseEvent>
#include <QPainter>

namespace ipsui {

SketchPad::SketchPad(QWidget* parent) : QWidget(parent) {
    setMinimumSize(200, 200);
    setCursor(Qt::CrossCursor);
    layer_.reset({512, 512});
}

QRectF SketchPad::drawingRect() const {
    const QSizeF size = QSizeF(layer_.size()).scaled(QSizeF(this->size()), Qt::KeepAspectRatio);
    return {QPointF((width() - size.width()) / 2, (height() - size.height()) / 2), size};
}

QPointF SketchPad::toLayer(QPointF widgetPos) const {
    const QRectF r = drawingRect();
    return (widgetPos - r.topLeft()) * (layer_.size().width() / r.width());
}

void SketchPad::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    p.setRenderHint(QPainter::SmoothPixmapTransform);
    p.drawImage(drawingRect(), layer_.image());
}

void SketchPad::mousePressEvent(QMouseEvent* event) {
    if (event->button() != Qt::LeftButton && event->button() != Qt::RightButton) return;
    drawing_ = true;
    const bool erase = event->button() == Qt::RightButton || (event->modifiers() & Qt::ShiftModifier);
    // The brush is given in layer pixels as seen on screen, so lines look the same at any widget size.
    const double diameter = brush_ * layer_.size().width() / drawingRect().width();
    layer_.beginStroke(toLayer(event->position()), erase ? diameter * 3 : diameter, erase);
    update();
}

void SketchPad::mouseMoveEvent(QMouseEvent* event) {
    if (!drawing_) return;
    layer_.extendStroke(toLayer(event->position()));
    update();
}

void SketchPad::mouseReleaseEvent(QMouseEvent*) {
    if (!drawing_) return;
    drawing_ = false;
    layer_.endStroke();
    Q_EMIT edited();
}

}  // namespace ipsui
