#pragma once
// A paintable 8-bit mask (255 = repaint) with brush strokes, eraser, clear, invert and undo/redo. Used
// for the inpainting mask and for ControlNet sketch maps; knows nothing of widgets. The Colour kind is an RGB
// picture painted with a coloured, soft-edged brush (colour sketching on the init image).
#include <QColor>
#include <QImage>
#include <QPointF>
#include <QRect>
#include <QSize>
#include <vector>

namespace ipsui {

class MaskLayer {
public:
    enum class Kind { Mask, Colour };
    // A new layer, blank (black) or `start` (converted to the kind's format, resized to `size`); drops the history.
    void reset(QSize size, const QImage& start = {}, Kind kind = Kind::Mask);
    Kind kind() const { return kind_; }
    // The Colour kind's brush colour (the mask kind paints white, or black when erasing).
    void setPaintColour(QColor colour) { paintColour_ = colour; }
    QColor paintColour() const { return paintColour_; }
    // Replaces the mask by `mask` (converted to gray); undoable.
    void assign(const QImage& mask);

    QSize size() const { return image_.size(); }
    bool isNull() const { return image_.isNull(); }
    const QImage& image() const { return image_; }
    bool isBlank() const;  // nothing painted

    // A stroke is one undo step however long it is. Positions are in mask pixels.
    void beginStroke(QPointF at, double diameter, bool erase);
    void extendStroke(QPointF to);
    void endStroke();

    void clear();
    void fill();  // all white: everywhere
    void invert();

    // The part changed by stroke painting since the last call (for redrawing only that part).
    QRect takeDirty();

    bool canUndo() const { return !undo_.empty(); }
    bool canRedo() const { return !redo_.empty(); }
    void undo();
    void redo();
    // The history, oldest first, for saving the work in progress; restore() puts a saved one back.
    const std::vector<QImage>& undoSteps() const { return undo_; }
    const std::vector<QImage>& redoSteps() const { return redo_; }
    void restore(const QImage& image, std::vector<QImage> undo, std::vector<QImage> redo);

private:
    void remember();  // pushes the current mask as an undo step
    void paintSegment(QPointF from, QPointF to);

    QImage::Format format() const { return kind_ == Kind::Colour ? QImage::Format_RGB32 : QImage::Format_Grayscale8; }

    QImage image_;
    Kind kind_ = Kind::Mask;
    QColor paintColour_{200, 60, 40};
    std::vector<QImage> undo_, redo_;
    bool stroking_ = false;
    bool erase_ = false;
    double diameter_ = 1;
    QPointF last_;
    QRect dirty_;
};

}  // namespace ipsui
