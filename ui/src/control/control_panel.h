#pragma once
// ControlNet units: each has a structure map, loaded as it is, derived live from a picture (Canny with
// its two thresholds) or sketched with the brush (scribble), a ControlNet model, a conditioning scale
// and a step range, and can be switched off without losing its map.
#include <QImage>
#include <QWidget>
#include <optional>
#include <vector>

#include "image_loader.h"
#include "ips/generation.h"

class QCheckBox;
class QJsonObject;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSlider;
class QStackedWidget;
class QVBoxLayout;

namespace ipsui {

class ElidedLabel;
class PictureStore;
class SketchPad;
class StepRangeEdit;

class ControlUnit : public QWidget {
    Q_OBJECT
public:
    enum class Source { Map = 0, Canny = 1, Sketch = 2 };

    explicit ControlUnit(int number, QWidget* parent = nullptr);

    void setModelFiles(const QStringList& paths);
    bool isOn() const;  // the unit's switch (not QWidget::isEnabled)
    Source source() const;
    void setSource(Source source);
    // The picture the map comes from (the map itself, or Canny's input).
    bool setPicture(const LoadedImage& picture);
    void setCannyThresholds(int low, int high);
    const QImage& map() const { return map_; }  // what the ControlNet receives
    SketchPad* sketchPad() const { return sketch_; }

    // Nothing when switched off; an error message when on but incomplete.
    std::optional<ips::ControlNetSettings> settings(QString* error) const;
    void apply(const ips::ControlNetSettings& settings);
    // Model, scale and step range without the map: what presets keep. Off units give nothing.
    std::optional<ips::ControlNetSettings> knobs() const;
    void applyKnobs(const ips::ControlNetSettings& settings);
    // The whole unit (switch, model, source, picture, thresholds, sketch with its undo steps, knobs) for
    // the autosaved session (control_state.cpp).
    QJsonObject saveState(PictureStore& store, QString* error) const;
    void restoreState(const QJsonObject& state, const PictureStore& store);

Q_SIGNALS:
    void removeRequested(ControlUnit* unit);
    void problem(QString message);
    void changed();  // the map, the model or a knob

private:
    void updateMap();
    void choosePicture();

    int number_;
    QCheckBox* enabled_;
    QComboBox* model_;
    QComboBox* source_;
    QStackedWidget* sourcePages_;
    ElidedLabel* pictureName_;
    QSlider* low_;
    QSlider* high_;
    QLabel* thresholds_;
    SketchPad* sketch_;
    QLabel* mapView_;
    QDoubleSpinBox* scale_;
    StepRangeEdit* range_;
    LoadedImage picture_;
    ips::Image cannyInput_;  // the picture, at most 1024 px a side: Canny re-runs on every slider move
    QImage map_;
};

class ControlPanel : public QWidget {
    Q_OBJECT
public:
    explicit ControlPanel(QWidget* parent = nullptr);

    ControlUnit* addUnit();
    void clearUnits();
    int unitCount() const;
    ControlUnit* unit(int index) const;
    void setModelFiles(const QStringList& paths);

    // The enabled units; an error (naming the unit) when one is incomplete.
    std::vector<ips::ControlNetSettings> settings(QString* error) const;
    void apply(const std::vector<ips::ControlNetSettings>& settings);
    std::vector<ips::ControlNetSettings> knobs() const;
    // Unit i takes entry i's knobs (units are added where missing); maps stay.
    void applyKnobs(const std::vector<ips::ControlNetSettings>& settings);
    // Every unit, as ControlUnit::saveState; restoring replaces the units.
    QJsonObject saveState(PictureStore& store, QString* error) const;
    void restoreState(const QJsonObject& state, const PictureStore& store);

Q_SIGNALS:
    void problem(QString message);
    void changed();
    // Before a user action throws away pictures or painting (the window keeps an undo step).
    void aboutToDiscard(QString what);

private:
    QVBoxLayout* units_;
    QLabel* emptyHint_;
    QStringList modelFiles_;
    int numbered_ = 0;
};

}  // namespace ipsui
