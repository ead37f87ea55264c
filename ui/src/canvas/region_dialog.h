#pragma once
// Paints where one IP-Adapter reference applies (its region, diffusers' ip_adapter_masks): a mask at the
// output size over a background (the init image or the last result, when there is one), in the reference's
// own colour, with the other references' regions shown faintly in theirs. Brush, eraser, fill (everywhere),
// invert, clear, undo/redo; the result is the grey mask (white = this reference applies here).
#include <QColor>
#include <QDialog>
#include <QImage>
#include <QList>
#include <QSize>

#include "mask_layer.h"

class QSlider;
class QToolButton;

namespace ipsui {

class CanvasView;

// Another reference's region, shown under the one being painted.
struct OtherRegion {
    QImage mask;
    QColor color;
};

class RegionDialog : public QDialog {
    Q_OBJECT
public:
    // `existing` (any size: resized to `size`) is the starting mask; null starts empty.
    RegionDialog(QSize size, const QImage& background, const QImage& existing, QColor color, const QList<OtherRegion>& others,
                 const QString& title, QWidget* parent = nullptr);

    QImage region() const { return mask_.image(); }  // Grayscale8 at the output size
    MaskLayer& mask() { return mask_; }              // for tests
    CanvasView* canvas() const { return canvas_; }

private:
    void updateButtons();

    MaskLayer mask_;
    CanvasView* canvas_;
    QSlider* brush_;
    QToolButton* eraser_;
    QToolButton* undo_;
    QToolButton* redo_;
};

}  // namespace ipsui
