#pragma once
// img2img and inpainting input: the init picture on a zoomable canvas, the denoising strength, the mask brush
// (size, eraser, clear, invert, undo/redo, load) painting a translucent overlay, and a colour brush that paints
// on the picture itself (colour, Alt+click eyedropper, undo/redo) — sketching colours for img2img and Live.
#include <QWidget>
#include <vector>

#include "image_loader.h"
#include "ips/generation.h"
#include "mask_layer.h"

class QCheckBox;
class QColor;
class QJsonObject;
class QDoubleSpinBox;
class QLabel;
class QSlider;
class QToolButton;
class QPushButton;

namespace ipsui {

class CanvasView;
class ElidedLabel;
class PictureStore;

class InitImagePanel : public QWidget {
    Q_OBJECT
public:
    explicit InitImagePanel(QWidget* parent = nullptr);

    bool setInitImage(const LoadedImage& image);  // the mask restarts blank at its size
    void clearInitImage();
    bool hasInitImage() const { return !init_.image.isNull(); }
    // Refused (message, nothing changed) unless it has the init picture's size.
    bool loadMask(const LoadedImage& mask);

    // init_image, strength and (when something is painted) mask_image.
    void writeTo(ips::GenerationRequest& request) const;
    void readFrom(const ips::GenerationRequest& request);
    // The init picture, strength, brush and the mask with its undo steps, for the autosaved session
    // (init_image_state.cpp).
    QJsonObject saveState(PictureStore& store, QString* error) const;
    void restoreState(const QJsonObject& state, const PictureStore& store);

    CanvasView* canvas() const { return canvas_; }
    MaskLayer& mask() { return mask_; }
    MaskLayer& paint() { return paint_; }  // the init picture with the colour strokes on it
    // The brush paints colour on the picture (true) or the inpainting mask (false).
    void setColourMode(bool colour);
    bool colourMode() const { return colourMode_; }
    void setPaintColour(QColor colour);
    QColor paintColour() const { return paint_.paintColour(); }
    bool painted() const;  // colour strokes make the picture differ from the one opened
    // A white picture of `size` to sketch on (the colour brush chosen).
    void newBlankCanvas(QSize size);
    // The newest Live frame, small in the canvas's corner, so painting and its picture are seen together; null hides it.
    void setLivePreview(const QImage& frame);
    QLabel* livePreview() const { return livePreview_; }
    // Undo/redo of the brush in use (mask or colour).
    bool canUndo() const;
    void undo();
    void redo();
    double strength() const;
    void setStrength(double strength);
    void setBrushDiameter(int pixels);
    int brushDiameter() const;

    // The output size the settings ask for: a different aspect ratio than the picture's is pointed out.
    void setOutputSize(QSize size);
    // The init picture's size made valid for generation: multiples of 8, at most 2048 a side, aspect kept.
    static QSize generationSizeFor(QSize picture);
    QString aspectNote() const;  // empty when the output keeps the picture's proportions

Q_SIGNALS:
    void problem(QString message);
    void useSizeRequested(QSize size);  // "Use its size"
    void changed();  // the picture or the mask
    // Before a user action throws away pictures or painting (the window keeps an undo step).
    void aboutToDiscard(QString what);


private:
    void chooseInitImage();
    void chooseMask();
    void maskChanged();
    MaskLayer& activeLayer() { return colourMode_ ? paint_ : mask_; }
    const MaskLayer& activeLayer() const { return colourMode_ ? paint_ : mask_; }

    LoadedImage init_;
    std::shared_ptr<const ips::Image> initMemory_;
    MaskLayer mask_;
    MaskLayer paint_;
    QImage paintStart_;  // the picture opened, in the paint layer's format: painted() compares with it
    bool colourMode_ = false;
    CanvasView* canvas_;
    QToolButton* maskTool_;
    QToolButton* colourTool_;
    QToolButton* swatch_;
    std::vector<QWidget*> maskOnly_;  // the mask's own tools, off while the colour brush is in use
    QLabel* livePreview_;
    QDoubleSpinBox* strength_;
    QSlider* brush_;
    QToolButton* eraser_;
    QToolButton* undo_;
    QToolButton* redo_;
    QCheckBox* showMask_;
    void updateAspectNote();

    ElidedLabel* info_;
    QWidget* aspectRow_;
    QLabel* aspectNote_;
    QPushButton* useSize_;
    QSize outputSize_{512, 512};
};

}  // namespace ipsui
