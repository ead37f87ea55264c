#pragma once
// The models the user has chosen (Settings > Models), how they persist, and the check that a chosen
// file is the kind of model its slot needs.
#include <QSettings>
#include <QString>
#include <QStringList>

#include <optional>
#include <string>

#include "ips/model_info.h"

namespace ipsui {

enum class ModelRole { BaseModel, IpAdapter, ImageEncoder, ControlNet, Vae, PreviewDecoder };

struct ModelConfig {
    QString baseModel;  // diffusers folder or single-file .safetensors
    QStringList ipAdapters;
    QString imageEncoder;  // CLIP vision folder
    QStringList controlNets;
    QString vae;  // optional: replaces the base model's own VAE (e.g. ft-MSE for "noVAE" fine-tunes)
    QString previewDecoder;  // optional: TAESD, full-size live previews every few steps

    // Puts `path` in the slot of `role` (lists: added once).
    void set(ModelRole role, const QString& path);
    // The path of a one-model slot (base, encoder, VAE, preview decoder); empty for the list roles.
    QString path(ModelRole role) const;
    void load(QSettings& settings);
    void save(QSettings& settings) const;
    // What is missing for a first generation, as advice the window shows (empty: ready).
    QString missingAdvice() const;
    bool operator==(const ModelConfig&) const = default;
};

struct ModelCheck {
    bool ok = false;
    QString description;  // e.g. "IP-Adapter plus (sd1.x), 22.0 M parameters"
    QString error;        // why it was refused, naming the file
};

// The slot a recognised model fills (none for kinds the app cannot use on their own), and whether its base
// architecture is one IP Studio runs: the rules checkModel applies, shared with the model manager.
std::optional<ModelRole> roleOfKind(ips::ModelKind kind);
bool runsBaseArchitecture(const std::string& baseArchitecture);

// Recognises the model from its tensor names (never its file name) and checks it fits `role`.
ModelCheck checkModel(const QString& path, ModelRole role);

QString roleName(ModelRole role);

}  // namespace ipsui
