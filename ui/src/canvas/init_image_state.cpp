// InitImagePanel's part of the autosaved session: the picture, strength, brush size, the painted mask and the
// colour strokes on the picture, each with its last undo steps, and the brush in use with its colour.
#include <QDoubleSpinBox>
#include <QJsonObject>
#include <QSlider>

#include "canvas_view.h"
#include "init_image_panel.h"
#include "layer_state.h"
#include "picture_store.h"

namespace ipsui {

QJsonObject InitImagePanel::saveState(PictureStore& store, QString* error) const {
    QJsonObject state{{QStringLiteral("strength"), strength()}, {QStringLiteral("brush"), brushDiameter()}};
    if (!hasInitImage()) return state;
    state.insert(QStringLiteral("image"), store.put(init_, error));
    state.insert(QStringLiteral("mask"), saveLayer(mask_, store, error));
    if (painted() || paint_.canUndo()) state.insert(QStringLiteral("paint"), saveLayer(paint_, store, error));
    state.insert(QStringLiteral("colourMode"), colourMode_);
    state.insert(QStringLiteral("paintColour"), paint_.paintColour().name());
    return state;
}

void InitImagePanel::restoreState(const QJsonObject& state, const PictureStore& store) {
    setStrength(state.value(QStringLiteral("strength")).toDouble(strength()));
    setBrushDiameter(state.value(QStringLiteral("brush")).toInt(brushDiameter()));
    if (!state.contains(QStringLiteral("image"))) {
        clearInitImage();
        return;
    }
    if (!setInitImage(store.take(state.value(QStringLiteral("image")).toObject()))) return;
    const QJsonObject mask = state.value(QStringLiteral("mask")).toObject();
    // A mask of another size than the picture (a damaged save) is left blank rather than stretched.
    if (store.image(mask).size() == init_.image.size()) restoreLayer(mask_, mask, store);
    const QJsonObject paint = state.value(QStringLiteral("paint")).toObject();
    if (!paint.isEmpty() && store.image(paint).size() == init_.image.size()) restoreLayer(paint_, paint, store);
    if (const QColor colour(state.value(QStringLiteral("paintColour")).toString()); colour.isValid()) setPaintColour(colour);
    setColourMode(state.value(QStringLiteral("colourMode")).toBool(false));
}

}  // namespace ipsui
