#pragma once
// The image prompt: reference pictures (dropped, pasted or chosen), each with a weight and a crop mode
// whose preview shows what the image encoder will see; an optional negative reference; the adapter, its
// scale slider, ComfyUI_IPAdapter_plus's weight type / combine / scaling choices and step range.
// Produces the request's IpAdapterSettings and restores them.
#include <QColor>
#include <QImage>
#include <QList>
#include <QWidget>
#include <functional>
#include <optional>

#include "image_loader.h"
#include "ips/generation.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSlider;
class QToolButton;
class QVBoxLayout;
class QMimeData;
class QJsonObject;

namespace ipsui {

class PictureStore;

class ElidedLabel;
class ReferenceRow;
class StepRangeEdit;

// What a region is painted over: the output size and a picture to paint on (init image or last result).
struct RegionCanvas {
    QSize size{512, 512};
    QImage background;
};

class ReferencePanel : public QWidget {
    Q_OBJECT
public:
    explicit ReferencePanel(QWidget* parent = nullptr);

    // Adds what the drop/paste carried; bad items become `problem` messages and add nothing.
    int addFromMime(const QMimeData* mime);
    int addLoaded(const QList<LoadedImage>& items);
    void clearReferences();
    int referenceCount() const;
    void setNegative(const LoadedImage& image);  // a null image clears it

    void setAdapterFiles(const QStringList& paths);  // the installed IP-Adapters
    QString adapterFile() const;
    void setScale(double scale);
    double scale() const;

    // The request's adapter, or nothing when there are no references. `imageEncoder` comes from the
    // model settings.
    std::optional<ips::IpAdapterSettings> settings(const QString& imageEncoder) const;
    // Restores everything an adapter entry carries (pictures from files or memory).
    void applySettings(const ips::IpAdapterSettings& settings);
    // Only the knobs (adapter, scale, mode, range), without pictures: what presets hold.
    ips::IpAdapterSettings knobs() const;
    void applyKnobs(const ips::IpAdapterSettings& settings);
    void chooseFiles();  // the Add... dialog
    // Everything the panel holds, pictures by name in `store`, for the autosaved session
    // (reference_state.cpp); restoreState puts it back exactly, saying what could not be found.
    QJsonObject saveState(PictureStore& store, QString* error) const;
    void restoreState(const QJsonObject& state, const PictureStore& store);
    // Where the region painter gets the output size and the picture to paint over (set by the window).
    void setRegionCanvas(std::function<RegionCanvas()> provider) { regionCanvas_ = std::move(provider); }
    // Opens the region painter for reference `index` (what the row's "Paint region…" does).
    void paintRegion(int index);
    // Each reference's colour on the canvas (by position).
    static QColor regionColor(int index);

    // For tests and shortcuts.
    QSlider* scaleSlider() const { return scaleSlider_; }
    QDoubleSpinBox* scaleBox() const { return scaleBox_; }
    QComboBox* modeBox() const { return mode_; }  // the weight type
    QComboBox* combineBox() const { return combine_; }
    QComboBox* scalingBox() const { return scaling_; }
    ReferenceRow* row(int index) const;

Q_SIGNALS:
    void problem(QString message);
    void changed();
    // Before a user action throws away pictures or painting (the window keeps an undo step).
    void aboutToDiscard(QString what);

protected:
    void dragEnterEvent(QDragEnterEvent*) override;
    void dropEvent(QDropEvent*) override;

private:
    void chooseNegative();
    void updateEmptyHint();
    void recolorRows();

    QVBoxLayout* rows_;
    QLabel* emptyHint_;
    QComboBox* adapter_;
    QSlider* scaleSlider_;
    QDoubleSpinBox* scaleBox_;
    QComboBox* mode_;     // weight type; ids in IpAdapterSettings::mode
    QComboBox* combine_;  // combine_embeds
    QComboBox* scaling_;  // embeds_scaling
    StepRangeEdit* range_;
    QLabel* negativeThumb_;
    LoadedImage negative_;
    ips::CropMode defaultCrop_ = ips::CropMode::Center;
    std::function<RegionCanvas()> regionCanvas_;
};

// One reference: thumbnail, weight, crop mode with its encoder preview, its region, remove.
class ReferenceRow : public QWidget {
    Q_OBJECT
public:
    ReferenceRow(LoadedImage image, QWidget* parent = nullptr);

    const LoadedImage& image() const { return image_; }
    ips::ImageSource source() const;
    double weight() const;
    void setWeight(double weight);
    ips::CropMode crop() const;
    void setCrop(ips::CropMode mode);
    const QImage& encoderPreview() const { return encoderPreview_; }

    // Where this reference applies (grey, white = here); null = everywhere. Setting it is undoable from the
    // row's region menu ("Restore the previous region").
    const QImage& region() const { return region_; }
    void setRegion(const QImage& region);
    void setRegionColor(QColor color);
    QColor regionColor() const { return color_; }
    bool canRestoreRegion() const { return hasPrevious_; }
    void restorePreviousRegion();

Q_SIGNALS:
    void removeRequested(ReferenceRow* row);
    void regionPaintRequested(ReferenceRow* row);
    void problem(QString message);
    void changed();
    void cropChanged(ips::CropMode mode);

private:
    void updatePreview();
    void updateRegionLabel();
    void chooseRegionFile();

    LoadedImage image_;
    QImage region_, previousRegion_;
    bool hasPrevious_ = false;
    QColor color_{255, 140, 0};
    QLabel* regionChip_;  // the reference's colour, when it has a region
    ElidedLabel* regionLabel_;
    QToolButton* regionButton_;
    std::shared_ptr<const ips::Image> memoryImage_;  // for pictures without a file
    QDoubleSpinBox* weight_;
    QComboBox* crop_;
    QLabel* preview_;
    QImage encoderPreview_;
};

}  // namespace ipsui
