#include "control_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QStackedWidget>
#include <QToolButton>

#include "ips/errors.h"
#include "ips/image_tools.h"
#include "qt_convert.h"
#include "elided_label.h"
#include "recent_folders.h"
#include "sketch_pad.h"
#include "step_range_edit.h"

namespace ipsui {

ControlUnit::ControlUnit(int number, QWidget* parent) : QWidget(parent), number_(number) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 4, 0, 4);
    auto* header = new QHBoxLayout;
    enabled_ = new QCheckBox(tr("ControlNet %1").arg(number));
    enabled_->setChecked(true);
    enabled_->setToolTip(tr("Switch this unit off without losing its map"));
    auto* remove = new QToolButton;
    remove->setText(QStringLiteral("\u2715"));
    remove->setAutoRaise(true);
    remove->setToolTip(tr("Remove this unit"));
    header->addWidget(enabled_);
    header->addStretch();
    header->addWidget(remove);
    layout->addLayout(header);

    auto* form = new QFormLayout;
    model_ = new QComboBox;
    model_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    model_->setMinimumContentsLength(16);
    form->addRow(tr("Model"), model_);
    source_ = new QComboBox;
    source_->addItem(tr("Map image (depth, pose, segmentation\u2026)"));
    source_->addItem(tr("Canny edges from a picture"));
    source_->addItem(tr("Sketch (scribble)"));
    form->addRow(tr("Map from"), source_);
    layout->addLayout(form);

    sourcePages_ = new QStackedWidget;
    // Page 0 and 1 share the picture chooser; page 1 adds the thresholds.
    auto* picturePage = new QWidget;
    auto* pictureLayout = new QVBoxLayout(picturePage);
    pictureLayout->setContentsMargins(0, 0, 0, 0);
    auto* pictureRow = new QHBoxLayout;
    auto* load = new QPushButton(tr("Load\u2026"));
    pictureName_ = new ElidedLabel(tr("no picture"));
    pictureRow->addWidget(load);
    pictureRow->addWidget(pictureName_, 1);
    pictureLayout->addLayout(pictureRow);
    auto* cannyBox = new QWidget;
    auto* cannyForm = new QFormLayout(cannyBox);
    cannyForm->setContentsMargins(0, 0, 0, 0);
    low_ = new QSlider(Qt::Horizontal);
    high_ = new QSlider(Qt::Horizontal);
    low_->setRange(0, 255);
    high_->setRange(0, 255);
    low_->setValue(100);
    high_->setValue(200);
    thresholds_ = new QLabel;
    cannyForm->addRow(tr("Low"), low_);
    cannyForm->addRow(tr("High"), high_);
    cannyForm->addRow(thresholds_);
    pictureLayout->addWidget(cannyBox);
    sourcePages_->addWidget(picturePage);

    auto* sketchPage = new QWidget;
    auto* sketchLayout = new QVBoxLayout(sketchPage);
    sketchLayout->setContentsMargins(0, 0, 0, 0);
    sketch_ = new SketchPad;
    sketch_->setToolTip(tr("Draw with the left button; right button or Shift erases"));
    auto* sketchTools = new QHBoxLayout;
    auto* undo = new QPushButton(tr("Undo"));
    auto* clear = new QPushButton(tr("Clear"));
    sketchTools->addWidget(undo);
    sketchTools->addWidget(clear);
    sketchTools->addStretch();
    sketchLayout->addWidget(sketch_);
    sketchLayout->addLayout(sketchTools);
    sourcePages_->addWidget(sketchPage);
    layout->addWidget(sourcePages_);

    mapView_ = new QLabel(tr("no map"));
    mapView_->setAlignment(Qt::AlignCenter);
    mapView_->setMinimumHeight(120);
    mapView_->setFrameShape(QFrame::StyledPanel);
    mapView_->setToolTip(tr("The map the ControlNet receives"));
    layout->addWidget(mapView_);

    auto* knobs = new QFormLayout;
    scale_ = new QDoubleSpinBox;
    scale_->setRange(0.0, 2.0);
    scale_->setSingleStep(0.05);
    scale_->setValue(1.0);
    knobs->addRow(tr("Conditioning scale"), scale_);
    range_ = new StepRangeEdit;
    knobs->addRow(tr("Active"), range_);
    layout->addLayout(knobs);

    connect(remove, &QToolButton::clicked, this, [this] { Q_EMIT removeRequested(this); });
    connect(source_, &QComboBox::currentIndexChanged, this, [this, cannyBox](int index) {
        sourcePages_->setCurrentIndex(index == int(Source::Sketch) ? 1 : 0);
        // A stacked widget is as tall as its tallest page; let only the shown page count.
        for (int i = 0; i < sourcePages_->count(); ++i)
            sourcePages_->widget(i)->setSizePolicy(i == sourcePages_->currentIndex() ? QSizePolicy::Preferred : QSizePolicy::Ignored,
                                                   i == sourcePages_->currentIndex() ? QSizePolicy::Preferred : QSizePolicy::Ignored);
        sourcePages_->adjustSize();
        cannyBox->setVisible(index == int(Source::Canny));
        updateMap();
    });
    connect(load, &QPushButton::clicked, this, &ControlUnit::choosePicture);
    connect(low_, &QSlider::valueChanged, this, &ControlUnit::updateMap);
    connect(high_, &QSlider::valueChanged, this, &ControlUnit::updateMap);
    connect(sketch_, &SketchPad::edited, this, &ControlUnit::updateMap);
    connect(undo, &QPushButton::clicked, this, [this] {
        sketch_->layer().undo();
        sketch_->update();
        updateMap();
    });
    connect(clear, &QPushButton::clicked, this, [this] {
        sketch_->layer().clear();
        sketch_->update();
        updateMap();
    });
    connect(enabled_, &QCheckBox::toggled, this, [this](bool on) { mapView_->setEnabled(on); });
    cannyBox->setVisible(false);
    sketchPage->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Ignored);
    updateMap();
}

void ControlUnit::setModelFiles(const QStringList& paths) {
    const QString current = model_->currentData().toString();
    model_->clear();
    for (const QString& p : paths) model_->addItem(QFileInfo(p).fileName(), p);
    if (paths.isEmpty()) model_->addItem(tr("(none installed \u2014 Settings \u25b8 Models)"), QString());
    if (const int i = model_->findData(current); i >= 0) model_->setCurrentIndex(i);
}

bool ControlUnit::isOn() const { return enabled_->isChecked(); }
ControlUnit::Source ControlUnit::source() const { return Source(source_->currentIndex()); }
void ControlUnit::setSource(Source source) { source_->setCurrentIndex(int(source)); }

void ControlUnit::setCannyThresholds(int low, int high) {
    low_->setValue(low);
    high_->setValue(high);
}

bool ControlUnit::setPicture(const LoadedImage& picture) {
    if (!picture.ok() || picture.image.isNull()) {
        Q_EMIT problem(picture.ok() ? tr("ControlNet %1: no picture").arg(number_) : picture.error);
        return false;
    }
    picture_ = picture;
    const QImage bounded = std::max(picture.image.width(), picture.image.height()) > 1024
                               ? picture.image.scaled(1024, 1024, Qt::KeepAspectRatio, Qt::SmoothTransformation)
                               : picture.image;
    cannyInput_ = toIpsImage(bounded);
    pictureName_->setFullText(picture.path.isEmpty() ? tr("picture in memory") : QFileInfo(picture.path).fileName());
    if (!picture.path.isEmpty()) pictureName_->setToolTip(picture.path);
    updateMap();
    return true;
}

void ControlUnit::choosePicture() {
    const QString file = QFileDialog::getOpenFileName(this, tr("ControlNet picture"), RecentFolders::get(RecentFolders::kPictures),
                                                      RecentFolders::pictureFilter());
    if (file.isEmpty()) return;
    RecentFolders::remember(RecentFolders::kPictures, file);
    setPicture(loadImageFile(file));
}

void ControlUnit::updateMap() {
    thresholds_->setText(tr("thresholds %1 / %2").arg(low_->value()).arg(high_->value()));
    switch (source()) {
        case Source::Map: map_ = picture_.image; break;
        case Source::Canny:
            // Live: OpenCV's Canny runs in a few milliseconds at SD sizes.
            map_ = picture_.image.isNull()
                       ? QImage()
                       : toQImage(ips::canny_edge_map(cannyInput_, low_->value(), high_->value()));
            break;
        case Source::Sketch: map_ = sketch_->layer().isBlank() ? QImage() : sketch_->layer().image(); break;
    }
    if (map_.isNull()) mapView_->setText(source() == Source::Sketch ? tr("draw above") : tr("no map"));
    else mapView_->setPixmap(QPixmap::fromImage(map_.scaled(200, 120, Qt::KeepAspectRatio, Qt::SmoothTransformation)));
    Q_EMIT changed();
}

std::optional<ips::ControlNetSettings> ControlUnit::knobs() const {
    if (!isOn() || model_->currentData().toString().isEmpty()) return std::nullopt;
    ips::ControlNetSettings s;
    s.path = toFsPath(model_->currentData().toString());
    s.conditioning_scale = scale_->value();
    s.start = range_->start();
    s.end = range_->end();
    return s;
}

void ControlUnit::applyKnobs(const ips::ControlNetSettings& s) {
    const QString path = fromFsPath(s.path);
    if (!path.isEmpty()) {
        if (model_->findData(path) < 0) model_->addItem(QFileInfo(path).fileName(), path);
        model_->setCurrentIndex(model_->findData(path));
    }
    scale_->setValue(s.conditioning_scale);
    range_->setRange(s.start, s.end);
    enabled_->setChecked(true);
}

std::optional<ips::ControlNetSettings> ControlUnit::settings(QString* error) const {
    if (!isOn()) return std::nullopt;
    const QString model = model_->currentData().toString();
    if (model.isEmpty()) {
        *error = tr("ControlNet %1: no ControlNet model chosen (Settings \u25b8 Models)").arg(number_);
        return std::nullopt;
    }
    if (map_.isNull()) {
        *error = tr("ControlNet %1: no map yet (load a picture or draw a sketch), or switch the unit off").arg(number_);
        return std::nullopt;
    }
    ips::ControlNetSettings s = *knobs();
    if (source() == Source::Map && !picture_.path.isEmpty()) s.image = {toFsPath(picture_.path), nullptr};
    else s.image = {{}, std::make_shared<const ips::Image>(toIpsImage(map_, source() == Source::Sketch))};
    return s;
}

void ControlUnit::apply(const ips::ControlNetSettings& s) {
    applyKnobs(s);
    setSource(Source::Map);
    if (s.image.image) setPicture(LoadedImage{{}, toQImage(*s.image.image), {}, false});
    else if (!s.image.path.empty()) setPicture(loadImageFile(fromFsPath(s.image.path)));
}

// ---------------------------------------------------------------------------------------------------------
ControlPanel::ControlPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    emptyHint_ = new QLabel(tr("No ControlNet: the composition is free. Add a unit to guide it with a depth map, "
                               "edges, a pose or a sketch."));
    emptyHint_->setWordWrap(true);
    layout->addWidget(emptyHint_);
    units_ = new QVBoxLayout;
    layout->addLayout(units_);
    auto* add = new QPushButton(tr("Add ControlNet unit"));
    layout->addWidget(add, 0, Qt::AlignLeft);
    connect(add, &QPushButton::clicked, this, [this] { addUnit(); });
}

ControlUnit* ControlPanel::addUnit() {
    auto* u = new ControlUnit(++numbered_);
    u->setModelFiles(modelFiles_);
    connect(u, &ControlUnit::problem, this, &ControlPanel::problem);
    connect(u, &ControlUnit::changed, this, &ControlPanel::changed);
    connect(u, &ControlUnit::removeRequested, this, [this](ControlUnit* unit) {
        Q_EMIT aboutToDiscard(tr("remove ControlNet unit %1").arg(units_->indexOf(unit) + 1));
        units_->removeWidget(unit);
        unit->deleteLater();
        emptyHint_->setVisible(units_->count() == 0);
    });
    units_->addWidget(u);
    emptyHint_->setVisible(false);
    return u;
}

void ControlPanel::clearUnits() {
    while (auto* item = units_->takeAt(0)) {
        delete item->widget();
        delete item;
    }
    numbered_ = 0;
    emptyHint_->setVisible(true);
}

int ControlPanel::unitCount() const { return units_->count(); }
ControlUnit* ControlPanel::unit(int index) const {
    auto* item = units_->itemAt(index);
    return item ? qobject_cast<ControlUnit*>(item->widget()) : nullptr;
}

void ControlPanel::setModelFiles(const QStringList& paths) {
    modelFiles_ = paths;
    for (int i = 0; i < unitCount(); ++i) unit(i)->setModelFiles(paths);
}

std::vector<ips::ControlNetSettings> ControlPanel::settings(QString* error) const {
    std::vector<ips::ControlNetSettings> out;
    for (int i = 0; i < unitCount(); ++i) {
        QString problem;
        if (auto s = unit(i)->settings(&problem)) out.push_back(std::move(*s));
        else if (!problem.isEmpty() && error->isEmpty()) *error = problem;
    }
    return out;
}

void ControlPanel::apply(const std::vector<ips::ControlNetSettings>& settings) {
    clearUnits();
    for (const auto& s : settings) addUnit()->apply(s);
    Q_EMIT changed();
}

std::vector<ips::ControlNetSettings> ControlPanel::knobs() const {
    std::vector<ips::ControlNetSettings> out;
    for (int i = 0; i < unitCount(); ++i)
        if (auto s = unit(i)->knobs()) out.push_back(std::move(*s));
    return out;
}

void ControlPanel::applyKnobs(const std::vector<ips::ControlNetSettings>& settings) {
    for (std::size_t i = 0; i < settings.size(); ++i) {
        ControlUnit* u = int(i) < unitCount() ? unit(int(i)) : addUnit();
        u->applyKnobs(settings[i]);
    }
    Q_EMIT changed();
}

}  // namespace ipsui
