#include "model_config.h"

#include <QFileInfo>

#include "ips/errors.h"
#include "ips/model_info.h"
#include "qt_convert.h"

namespace ipsui {

void ModelConfig::set(ModelRole role, const QString& path) {
    switch (role) {
        case ModelRole::BaseModel: baseModel = path; break;
        case ModelRole::ImageEncoder: imageEncoder = path; break;
        case ModelRole::Vae: vae = path; break;
        case ModelRole::PreviewDecoder: previewDecoder = path; break;
        case ModelRole::IpAdapter:
            if (!ipAdapters.contains(path)) ipAdapters << path;
            break;
        case ModelRole::ControlNet:
            if (!controlNets.contains(path)) controlNets << path;
            break;
    }
}

QString ModelConfig::path(ModelRole role) const {
    switch (role) {
        case ModelRole::BaseModel: return baseModel;
        case ModelRole::ImageEncoder: return imageEncoder;
        case ModelRole::Vae: return vae;
        case ModelRole::PreviewDecoder: return previewDecoder;
        case ModelRole::IpAdapter:
        case ModelRole::ControlNet: return {};
    }
    return {};
}

void ModelConfig::load(QSettings& s) {
    s.beginGroup(QStringLiteral("models"));
    baseModel = s.value(QStringLiteral("base")).toString();
    ipAdapters = s.value(QStringLiteral("ipAdapters")).toStringList();
    imageEncoder = s.value(QStringLiteral("imageEncoder")).toString();
    controlNets = s.value(QStringLiteral("controlNets")).toStringList();
    vae = s.value(QStringLiteral("vae")).toString();
    previewDecoder = s.value(QStringLiteral("previewDecoder")).toString();
    s.endGroup();
}

void ModelConfig::save(QSettings& s) const {
    s.beginGroup(QStringLiteral("models"));
    s.setValue(QStringLiteral("base"), baseModel);
    s.setValue(QStringLiteral("ipAdapters"), ipAdapters);
    s.setValue(QStringLiteral("imageEncoder"), imageEncoder);
    s.setValue(QStringLiteral("controlNets"), controlNets);
    s.setValue(QStringLiteral("vae"), vae);
    s.setValue(QStringLiteral("previewDecoder"), previewDecoder);
    s.endGroup();
}

QString ModelConfig::missingAdvice() const {
    QStringList missing;
    if (baseModel.isEmpty())
        missing << QStringLiteral("a Stable Diffusion 1.5 base model (a diffusers folder such as "
                                  "stable-diffusion-v1-5/stable-diffusion-v1-5 from Hugging Face, or a single .safetensors checkpoint)");
    if (ipAdapters.isEmpty()) missing << QStringLiteral("an IP-Adapter (h94/IP-Adapter: models/ip-adapter_sd15.safetensors)");
    if (imageEncoder.isEmpty())
        missing << QStringLiteral("the IP-Adapter image encoder (h94/IP-Adapter: the models/image_encoder folder)");
    if (missing.isEmpty()) return {};
    const bool one = missing.size() == 1;
    return QStringLiteral("Missing: %1. Download %2 or find %3 already on this computer in Settings \u25b8 Model "
                          "manager (Ctrl+Shift+M), or choose %4 in Settings \u25b8 Models (Ctrl+,).")
        .arg(missing.join(QStringLiteral("; ")), one ? QStringLiteral("it") : QStringLiteral("them"),
             one ? QStringLiteral("it") : QStringLiteral("the ones"), one ? QStringLiteral("the file") : QStringLiteral("files"));
}

QString roleName(ModelRole role) {
    switch (role) {
        case ModelRole::BaseModel: return QStringLiteral("a Stable Diffusion 1.x base model");
        case ModelRole::IpAdapter: return QStringLiteral("an IP-Adapter");
        case ModelRole::ImageEncoder: return QStringLiteral("a CLIP image encoder folder");
        case ModelRole::ControlNet: return QStringLiteral("a ControlNet folder");
        case ModelRole::Vae: return QStringLiteral("a VAE (diffusers folder or single file)");
        case ModelRole::PreviewDecoder: return QStringLiteral("a TAESD preview decoder (madebyollin/taesd folder or taesd_decoder file)");
    }
    return {};
}

std::optional<ModelRole> roleOfKind(ips::ModelKind kind) {
    using K = ips::ModelKind;
    switch (kind) {
        case K::DiffusersPipeline:
        case K::SingleFileCheckpoint: return ModelRole::BaseModel;
        case K::IpAdapter: return ModelRole::IpAdapter;
        case K::ImageEncoder: return ModelRole::ImageEncoder;
        case K::ControlNet: return ModelRole::ControlNet;
        case K::Vae: return ModelRole::Vae;
        case K::TinyAutoencoder: return ModelRole::PreviewDecoder;
        default: return std::nullopt;
    }
}

bool runsBaseArchitecture(const std::string& base) { return base != "sdxl" && base != "sd2.x"; }

ModelCheck checkModel(const QString& path, ModelRole role) {
    ModelCheck check;
    const QString name = QFileInfo(path).fileName();
    ips::ModelInfo info;
    try {
        info = ips::inspect_model(toFsPath(path));
    } catch (const ips::Error& e) {
        check.error = QString::fromStdString(e.what());
        return check;
    }
    const QString kind = QString::fromLatin1(ips::model_kind_name(info.kind));
    QStringList parts{kind};
    if (!info.variant.empty()) parts.last() += QStringLiteral(" ") + QString::fromStdString(info.variant);
    if (!info.base_architecture.empty()) parts << QString::fromStdString(info.base_architecture);
    if (info.parameter_count >= 1000000) parts << QStringLiteral("%1 M parameters").arg(double(info.parameter_count) / 1e6, 0, 'f', 1);
    else if (info.parameter_count > 0) parts << QStringLiteral("%1 k parameters").arg(double(info.parameter_count) / 1e3, 0, 'f', 1);
    const QString description = parts.join(QStringLiteral(" \u00b7 "));
    check.description = description;
    if (roleOfKind(info.kind) != role) {
        check.error = QStringLiteral("%1 is %2; expected %3").arg(name, info.kind == ips::ModelKind::Unknown ? QStringLiteral("not a model IP Studio recognises") : description, roleName(role));
        return check;
    }
    if (!runsBaseArchitecture(info.base_architecture)) {
        check.error = QStringLiteral("%1 is %2; IP Studio runs Stable Diffusion 1.x models").arg(name, description);
        return check;
    }
    if (role == ModelRole::PreviewDecoder && info.variant == "encoder") {
        check.error = QStringLiteral("%1 is a TAESD encoder; previews need the decoder (taesd_decoder)").arg(name);
        return check;
    }
    if (const auto latent = info.dimensions.find("latent_channels");
        role == ModelRole::PreviewDecoder && latent != info.dimensions.end() && latent->second != 4) {
        check.error = QStringLiteral("%1 is a TAESD decoder for %2-channel latents (SD3/FLUX); Stable Diffusion 1.x needs taesd (4 channels)")
                          .arg(name)
                          .arg(latent->second);
        return check;
    }
    if (role == ModelRole::IpAdapter && info.variant == "faceid") {
        check.error = QStringLiteral("%1 is an IP-Adapter FaceID, which is not supported yet").arg(name);
        return check;
    }
    check.ok = true;
    return check;
}

}  // namespace ipsui
