#pragma once
// Shows a picture with zoom (wheel, fit) and pan (middle or right drag, or Space + drag), and when
// a mask layer is attached, paints it with a round brush (left drag; Shift or the eraser erases) and
// shows it as a translucent overlay (red unless told otherwise). A Colour layer is shown in place of the
// picture and painted in its colour; Alt+click picks a colour from what is shown. Accepts pictures dropped on it.
#include <QColor>
#include <QImage>
#include <QPointF>
#include <QWidget>

#include "image_loader.h"
#include "mask_layer.h"

namespace ipsui {

// Writes `mask` (Grayscale8) into `overlay` (ARGB32 premultiplied, the mask's size) as `color` with alpha
// maxAlpha * mask / 255, inside `region` only: the translucent colour of a painted mask.
void tintMask(const QImage& mask, QColor color, int maxAlpha, QRect region, QImage& overlay);

class CanvasView : public QWidget {
    Q_OBJECT
public:
    explicit CanvasView(QWidget* parent = nullptr);

    void setImage(const QImage& image);  // keeps the zoom when the size is unchanged (previews)
    const QImage& image() const { return image_; }
    void setPlaceholder(const QString& text);

    // The layer painted over the picture (a mask) or in place of it (a Colour layer); nullptr: viewing only.
    void setMask(MaskLayer* mask);
    const QImage& shownImage() const;  // the Colour layer when one is attached, else the picture
    void setBrushDiameter(int pixels);
    int brushDiameter() const { return brush_; }
    void setEraser(bool erase) { eraser_ = erase; }
    bool eraser() const { return eraser_; }
    void setMaskVisible(bool visible);
    // The overlay's colour (red for the inpainting mask; a reference's own colour for its region).
    void setOverlayColor(QColor color);

    void zoomToFit();
    void zoomBy(double factor);
    double zoom() const { return zoom_; }

    // Widget position <-> picture pixel (for tests and the brush).
    QPointF toImage(QPointF widgetPos) const;
    QPointF toWidget(QPointF imagePos) const;

Q_SIGNALS:
    void maskEdited();
    void colourPicked(QColor colour);  // Alt+click
    void picturesDropped(QList<ipsui::LoadedImage> pictures);  // checked, as imagesFromMime gives them

protected:
    void paintEvent(QPaintEvent*) override;
    void resizeEvent(QResizeEvent*) override;
    void wheelEvent(QWheelEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mouseReleaseEvent(QMouseEvent*) override;
    void keyPressEvent(QKeyEvent*) override;
    void keyReleaseEvent(QKeyEvent*) override;
    void leaveEvent(QEvent*) override;
    void dragEnterEvent(QDragEnterEvent*) override;
    void dropEvent(QDropEvent*) override;

private:
    QRectF imageRect() const;
    double scaleFactor() const;

    QImage image_;
    QImage overlay_;  // the mask as translucent red, rebuilt when the mask changes
    QString placeholder_;
    MaskLayer* mask_ = nullptr;
    bool maskVisible_ = true;
    QColor overlayColor_{255, 40, 40};
    int brush_ = 32;
    bool eraser_ = false;
    double zoom_ = 1.0;  // 1 = fit to the widget
    QPointF pan_;
    bool fit_ = true;
    bool painting_ = false;
    bool panning_ = false;
    bool spaceHeld_ = false;
    QPointF lastMouse_;
    QPointF hover_{-1, -1};
    void rebuildOverlay(QRect region = {});  // empty: all of it
};

}  // namespace ipsui
