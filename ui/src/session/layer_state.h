#pragma once
// A paintable layer (mask, sketch) in a saved state: the picture and its last undo/redo steps.
#include <QJsonObject>

namespace ipsui {

class MaskLayer;
class PictureStore;

// Keeps at most `kSavedLayerSteps` undo steps: enough to take back the last strokes after a restart.
inline constexpr int kSavedLayerSteps = 10;

QJsonObject saveLayer(const MaskLayer& layer, PictureStore& store, QString* error);
// False (the layer untouched) when the entry holds no picture.
bool restoreLayer(MaskLayer& layer, const QJsonObject& entry, const PictureStore& store);

}  // namespace ipsui
