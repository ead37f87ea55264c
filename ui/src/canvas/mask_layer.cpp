#include "mask_layer.h"

#include <QPainter>

namespace ipsui {

namespace {
// Whole-mask snapshots, bounded by memory: 256 MB is 1000 steps at 512x512 and 4 at 8192x8192.
constexpr qsizetype kUndoBytes = qsizetype(256) << 20;
}

void MaskLayer::reset(QSize size, const QImage& start, Kind kind) {
    kind_ = kind;
    if (start.isNull()) {
        image_ = QImage(size, format());
        image_.fill(0);
    } else {
        image_ = start.convertToFormat(format()).scaled(size);
    }
    undo_.clear();
    redo_.clear();
    stroking_ = false;
}

void MaskLayer::assign(const QImage& mask) {
    remember();
    image_ = mask.convertToFormat(format());
}

bool MaskLayer::isBlank() const {
    for (int y = 0; y < image_.height(); ++y) {
        const uchar* row = image_.constScanLine(y);
        for (int x = 0; x < image_.width(); ++x)
            if (row[x]) return false;
    }
    return true;
}

void MaskLayer::remember() {
    if (image_.isNull()) return;
    undo_.push_back(image_);
    const qsizetype snapshotBytes = image_.sizeInBytes();
    while (undo_.size() > 1 && qsizetype(undo_.size()) * snapshotBytes > kUndoBytes) undo_.erase(undo_.begin());
    redo_.clear();
}

void MaskLayer::restore(const QImage& image, std::vector<QImage> undo, std::vector<QImage> redo) {
    image_ = image.convertToFormat(format());
    auto gray = [this](std::vector<QImage>& steps) {
        // Steps of another size (a damaged save) would break undo: dropped.
        std::erase_if(steps, [this](const QImage& step) { return step.size() != image_.size(); });
        for (QImage& step : steps) step = step.convertToFormat(format());
    };
    gray(undo);
    gray(redo);
    undo_ = std::move(undo);
    redo_ = std::move(redo);
    stroking_ = false;
}

void MaskLayer::beginStroke(QPointF at, double diameter, bool erase) {
    if (image_.isNull()) return;
    remember();
    stroking_ = true;
    erase_ = erase;
    diameter_ = std::max(1.0, diameter);
    last_ = at;
    paintSegment(at, at);
}

void MaskLayer::extendStroke(QPointF to) {
    if (!stroking_) return;
    paintSegment(last_, to);
    last_ = to;
}

void MaskLayer::endStroke() { stroking_ = false; }

QRect MaskLayer::takeDirty() {
    const QRect dirty = dirty_;
    dirty_ = QRect();
    return dirty;
}

void MaskLayer::paintSegment(QPointF from, QPointF to) {
    const double r = diameter_ / 2 + 2;
    dirty_ |= QRectF(from, to).normalized().adjusted(-r, -r, r, r).toAlignedRect().intersected(image_.rect());
    // A mask gets a hard round brush so a painted pixel is fully in or out; colour strokes are antialiased.
    QPainter p(&image_);
    const bool colourKind = kind_ == Kind::Colour;
    p.setRenderHint(QPainter::Antialiasing, colourKind);
    const QColor colour = colourKind ? paintColour_ : erase_ ? QColor(0, 0, 0) : QColor(255, 255, 255);
    p.setPen(QPen(colour, diameter_, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    if (from == to) {
        p.setPen(Qt::NoPen);
        p.setBrush(colour);
        p.drawEllipse(from, diameter_ / 2, diameter_ / 2);
    } else {
        p.drawLine(from, to);
    }
}

void MaskLayer::clear() {
    if (image_.isNull()) return;
    remember();
    image_.fill(0);
}

void MaskLayer::fill() {
    if (image_.isNull()) return;
    remember();
    image_.fill(255);
}

void MaskLayer::invert() {
    if (image_.isNull()) return;
    remember();
    image_.invertPixels();
}

void MaskLayer::undo() {
    if (undo_.empty()) return;
    redo_.push_back(image_);
    image_ = undo_.back();
    undo_.pop_back();
}

void MaskLayer::redo() {
    if (redo_.empty()) return;
    undo_.push_back(image_);
    image_ = redo_.back();
    redo_.pop_back();
}

}  // namespace ipsui
