#pragma once
// img2img and inpainting input: the init picture on a zoomable canvas, the denoising strength, and
// the mask brush (size, eraser, clear, invert, undo/redo, load) painting a translucent overlay.
#include <QWidget>

#include "image_loader.h"
#include "ips/generation.h"
#include "mask_layer.h"

class QCheckBox;
class QDoubleSpinBox;
class QLabel;
class QSlider;
class QToolButton;

namespace ipsui {

class CanvasView;

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

    CanvasView* canvas() const { return canvas_; }
    MaskLayer& mask() { return mask_; }
    void undo();
    void redo();
    double strength() const;
    void setStrength(double strength);
    void setBrushDiameter(int pixels);
    int brushDiameter() const;

Q_SIGNALS:
    void problem(QString message);

private:
    void chooseInitImage();
    void chooseMask();
    void maskChanged();

    LoadedImage init_;
    std::shared_ptr<const ips::Image> initMemory_;
    MaskLayer mask_;
    CanvasView* canvas_;
    QDoubleSpinBox* strength_;
    QSlider* brush_;
    QToolButton* eraser_;
    QToolButton* undo_;
    QToolButton* redo_;
    QCheckBox* showMask_;
    QLabel* info_;
};

}  // namespace ipsui
