// ControlPanel's part of the autosaved session. Unlike a request, it keeps what a request drops: units
// switched off or without a model, the Canny source picture and thresholds, the sketch and its undo steps.
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonObject>
#include <QSlider>

#include "control_panel.h"
#include "layer_state.h"
#include "picture_store.h"
#include "sketch_pad.h"
#include "step_range_edit.h"

namespace ipsui {

QJsonObject ControlUnit::saveState(PictureStore& store, QString* error) const {
    QJsonObject state{
        {QStringLiteral("on"), isOn()},
        {QStringLiteral("model"), model_->currentData().toString()},
        {QStringLiteral("source"), int(source())},
        {QStringLiteral("canny_low"), low_->value()},
        {QStringLiteral("canny_high"), high_->value()},
        {QStringLiteral("scale"), scale_->value()},
        {QStringLiteral("start"), range_->start()},
        {QStringLiteral("end"), range_->end()},
    };
    if (!picture_.image.isNull()) state.insert(QStringLiteral("picture"), store.put(picture_, error));
    if (!sketch_->layer().isNull()) state.insert(QStringLiteral("sketch"), saveLayer(sketch_->layer(), store, error));
    return state;
}

void ControlUnit::restoreState(const QJsonObject& state, const PictureStore& store) {
    const QString model = state.value(QStringLiteral("model")).toString();
    if (!model.isEmpty()) {
        if (model_->findData(model) < 0) model_->addItem(QFileInfo(model).fileName(), model);
        model_->setCurrentIndex(model_->findData(model));
    }
    scale_->setValue(state.value(QStringLiteral("scale")).toDouble(1.0));
    range_->setRange(state.value(QStringLiteral("start")).toDouble(0.0), state.value(QStringLiteral("end")).toDouble(1.0));
    setCannyThresholds(state.value(QStringLiteral("canny_low")).toInt(100), state.value(QStringLiteral("canny_high")).toInt(200));
    if (state.contains(QStringLiteral("sketch"))) restoreLayer(sketch_->layer(), state.value(QStringLiteral("sketch")).toObject(), store);
    if (state.contains(QStringLiteral("picture"))) setPicture(store.take(state.value(QStringLiteral("picture")).toObject()));
    setSource(Source(std::clamp(state.value(QStringLiteral("source")).toInt(), 0, 2)));
    enabled_->setChecked(state.value(QStringLiteral("on")).toBool(true));
    sketch_->update();
    updateMap();
}

QJsonObject ControlPanel::saveState(PictureStore& store, QString* error) const {
    QJsonArray units;
    for (int i = 0; i < unitCount(); ++i) units.append(unit(i)->saveState(store, error));
    return QJsonObject{{QStringLiteral("units"), units}};
}

void ControlPanel::restoreState(const QJsonObject& state, const PictureStore& store) {
    clearUnits();
    for (const QJsonValue& v : state.value(QStringLiteral("units")).toArray()) addUnit()->restoreState(v.toObject(), store);
    Q_EMIT changed();
}

}  // namespace ipsui
