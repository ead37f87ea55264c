#pragma once
// A small drawing surface for scribble maps: white strokes on black, brush size, eraser (Shift or right
// button), undo. The drawing is a MaskLayer, so it has the same stroke/undo behaviour as the mask brush.
#include <QWidget>

#include "mask_layer.h"

namespace ipsui {

class SketchPad : public QWidget {
    Q_OBJECT
public:
    explicit SketchPad(QWidget* parent = nullptr);

    MaskLayer& layer() { return layer_; }
    const MaskLayer& layer() const { return layer_; }
    void setBrushDiameter(int pixels) { brush_ = pixels; }
    QRectF drawingRect() const;  // where the drawing is shown, in widget coordinates

Q_SIGNALS:
    void edited();

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mouseReleaseEvent(QMouseEvent*) override;

private:
    QPointF toLayer(QPointF widgetPos) const;

    MaskLayer layer_;
    int brush_ = 6;
    bool drawing_ = false;
};

}  // namespace ipsui
