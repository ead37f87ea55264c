#include "layer_state.h"

#include <QJsonArray>

#include "mask_layer.h"
#include "picture_store.h"

namespace ipsui {

namespace {

QJsonArray saveSteps(const std::vector<QImage>& steps, std::size_t keepLast, PictureStore& store, QString* error) {
    QJsonArray out;
    const std::size_t first = steps.size() > keepLast ? steps.size() - keepLast : 0;
    for (std::size_t i = first; i < steps.size(); ++i) out.append(store.putImage(steps[i], error));
    return out;
}

std::vector<QImage> restoreSteps(const QJsonArray& entries, const PictureStore& store) {
    std::vector<QImage> steps;
    for (const QJsonValue& e : entries)
        if (QImage step = store.image(e.toObject()); !step.isNull()) steps.push_back(std::move(step));
    return steps;
}

}  // namespace

QJsonObject saveLayer(const MaskLayer& layer, PictureStore& store, QString* error) {
    if (layer.isNull()) return {};
    QJsonObject entry = store.putImage(layer.image(), error);
    entry.insert(QStringLiteral("undo"), saveSteps(layer.undoSteps(), kSavedLayerSteps, store, error));
    // Redo steps are the newest at the back too; keep those nearest the current picture.
    entry.insert(QStringLiteral("redo"), saveSteps(layer.redoSteps(), kSavedLayerSteps, store, error));
    return entry;
}

bool restoreLayer(MaskLayer& layer, const QJsonObject& entry, const PictureStore& store) {
    const QImage image = store.image(entry);
    if (image.isNull()) return false;
    layer.restore(image, restoreSteps(entry.value(QStringLiteral("undo")).toArray(), store),
                  restoreSteps(entry.value(QStringLiteral("redo")).toArray(), store));
    return true;
}

}  // namespace ipsui
