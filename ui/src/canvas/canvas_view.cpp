#include "canvas_view.h"

#include <QKeyEvent>
#include <QMimeData>
#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>
#include <cmath>

namespace ipsui {

CanvasView::CanvasView(QWidget* parent) : QWidget(parent) {
    setMinimumSize(256, 256);
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setAcceptDrops(true);
    setAutoFillBackground(true);
    QPalette pal = palette();
    pal.setColor(QPalette::Window, QColor(38, 38, 42));
    setPalette(pal);
}

void CanvasView::setImage(const QImage& image) {
    const bool sameSize = image.size() == image_.size();
    image_ = image;
    if (!sameSize) zoomToFit();
    update();
}

void CanvasView::setPlaceholder(const QString& text) {
    placeholder_ = text;
    update();
}

void CanvasView::setMask(MaskLayer* mask) {
    mask_ = mask;
    rebuildOverlay();
    setCursor(mask_ ? Qt::CrossCursor : Qt::ArrowCursor);
    update();
}

const QImage& CanvasView::shownImage() const {
    return mask_ && mask_->kind() == MaskLayer::Kind::Colour && !mask_->isNull() ? mask_->image() : image_;
}

void CanvasView::setBrushDiameter(int pixels) {
    brush_ = std::clamp(pixels, 1, 512);
    update();
}

void CanvasView::setOverlayColor(QColor color) {
    overlayColor_ = color;
    rebuildOverlay();
    update();
}

void CanvasView::setMaskVisible(bool visible) {
    maskVisible_ = visible;
    update();
}

void CanvasView::rebuildOverlay(QRect region) {
    if (!mask_ || mask_->isNull() || mask_->kind() == MaskLayer::Kind::Colour) {
        overlay_ = QImage();
        return;
    }
    // The overlay colour where the mask is white, alpha 45% of the mask value (premultiplied).
    const QImage& m = mask_->image();
    if (overlay_.size() != m.size()) {
        overlay_ = QImage(m.size(), QImage::Format_ARGB32_Premultiplied);
        region = QRect();
    }
    tintMask(m, overlayColor_, 115, region.isEmpty() ? m.rect() : region, overlay_);
}

void tintMask(const QImage& mask, QColor color, int maxAlpha, QRect region, QImage& overlay) {
    for (int y = region.top(); y <= region.bottom(); ++y) {
        const uchar* src = mask.constScanLine(y);
        auto* dst = reinterpret_cast<QRgb*>(overlay.scanLine(y));
        for (int x = region.left(); x <= region.right(); ++x) {
            const int a = src[x] * maxAlpha / 255;
            dst[x] = qRgba(color.red() * a / 255, color.green() * a / 255, color.blue() * a / 255, a);
        }
    }
}

double CanvasView::scaleFactor() const {
    if (image_.isNull()) return 1.0;
    const double fit = std::min(width() / double(image_.width()), height() / double(image_.height()));
    return std::min(fit, 8.0) * zoom_;
}

QRectF CanvasView::imageRect() const {
    const double s = scaleFactor();
    const QSizeF size(image_.width() * s, image_.height() * s);
    const QPointF topLeft(width() / 2.0 - size.width() / 2 + pan_.x(), height() / 2.0 - size.height() / 2 + pan_.y());
    return {topLeft, size};
}

QPointF CanvasView::toImage(QPointF widgetPos) const {
    const QRectF r = imageRect();
    const double s = scaleFactor();
    return (widgetPos - r.topLeft()) / s;
}

QPointF CanvasView::toWidget(QPointF imagePos) const { return imageRect().topLeft() + imagePos * scaleFactor(); }

void CanvasView::zoomToFit() {
    zoom_ = 1.0;
    pan_ = {};
    update();
}

void CanvasView::zoomBy(double factor) {
    zoom_ = std::clamp(zoom_ * factor, 0.1, 32.0);
    update();
}

void CanvasView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    if (image_.isNull()) {
        p.setPen(QColor(170, 170, 175));
        p.drawText(rect().adjusted(24, 24, -24, -24), Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
        return;
    }
    const QRectF r = imageRect();
    p.setRenderHint(QPainter::SmoothPixmapTransform, scaleFactor() < 2.0);
    p.drawImage(r, shownImage());
    if (mask_ && maskVisible_ && !overlay_.isNull()) p.drawImage(r, overlay_);
    if (mask_ && hover_.x() >= 0) {
        const double radius = brush_ * scaleFactor() / 2;
        p.setRenderHint(QPainter::Antialiasing);
        p.setPen(QPen(Qt::black, 1.5));
        p.drawEllipse(hover_, radius, radius);
        const bool colour = mask_->kind() == MaskLayer::Kind::Colour;
        p.setPen(QPen(colour ? mask_->paintColour() : eraser_ ? Qt::cyan : Qt::white, colour ? 2 : 1));
        p.drawEllipse(hover_, radius - 1, radius - 1);
    }
}

void CanvasView::resizeEvent(QResizeEvent*) { update(); }

void CanvasView::wheelEvent(QWheelEvent* event) {
    if (image_.isNull()) return;
    // Zoom around the cursor: keep the picture point under it fixed.
    const QPointF cursor = event->position();
    const QPointF before = toImage(cursor);
    zoomBy(std::pow(1.0015, event->angleDelta().y()));
    pan_ += cursor - toWidget(before);
    update();
    event->accept();
}

void CanvasView::mousePressEvent(QMouseEvent* event) {
    lastMouse_ = event->position();
    const bool panButton = event->button() == Qt::MiddleButton || event->button() == Qt::RightButton ||
                           (event->button() == Qt::LeftButton && spaceHeld_);
    if (panButton) {
        panning_ = true;
        setCursor(Qt::ClosedHandCursor);
        return;
    }
    if (event->button() == Qt::LeftButton && (event->modifiers() & Qt::AltModifier) && !image_.isNull()) {
        const QPoint at = toImage(event->position()).toPoint();
        if (shownImage().rect().contains(at)) Q_EMIT colourPicked(shownImage().pixelColor(at));
        return;
    }
    if (event->button() == Qt::LeftButton && mask_ && !mask_->isNull() && !image_.isNull()) {
        painting_ = true;
        const bool erase = eraser_ || (event->modifiers() & Qt::ShiftModifier);
        mask_->beginStroke(toImage(event->position()), brush_, erase);
        rebuildOverlay(mask_->takeDirty());
        update();
    }
}

void CanvasView::mouseMoveEvent(QMouseEvent* event) {
    hover_ = event->position();
    if (panning_) {
        pan_ += event->position() - lastMouse_;
    } else if (painting_) {
        mask_->extendStroke(toImage(event->position()));
        const QRect dirty = mask_->takeDirty();
        if (!dirty.isEmpty()) rebuildOverlay(dirty);
    }
    lastMouse_ = event->position();
    update();
}

void CanvasView::mouseReleaseEvent(QMouseEvent*) {
    if (panning_) {
        panning_ = false;
        setCursor(mask_ ? Qt::CrossCursor : Qt::ArrowCursor);
    }
    if (painting_) {
        painting_ = false;
        mask_->endStroke();
        Q_EMIT maskEdited();
    }
}

void CanvasView::keyPressEvent(QKeyEvent* event) {
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        spaceHeld_ = true;
        setCursor(Qt::OpenHandCursor);
        return;
    }
    QWidget::keyPressEvent(event);
}

void CanvasView::keyReleaseEvent(QKeyEvent* event) {
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        spaceHeld_ = false;
        setCursor(mask_ ? Qt::CrossCursor : Qt::ArrowCursor);
        return;
    }
    QWidget::keyReleaseEvent(event);
}

void CanvasView::leaveEvent(QEvent*) {
    hover_ = {-1, -1};
    update();
}

void CanvasView::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls() || event->mimeData()->hasImage()) event->acceptProposedAction();
}

void CanvasView::dropEvent(QDropEvent* event) {
    Q_EMIT picturesDropped(imagesFromMime(event->mimeData(), false));
    event->setDropAction(Qt::CopyAction);
    event->accept();
}

}  // namespace ipsui
