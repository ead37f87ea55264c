// inspect_model: recognise what a user-supplied file or folder is.
#include <nlohmann/json.hpp>

#include "io/component_files.h"
#include "io/detect.h"
#include "io/json_file.h"
#include "io/weights.h"
#include "ips/errors.h"
#include "ips/model_info.h"
#include "lora/lora_keys.h"

namespace ips {
namespace {

namespace fs = std::filesystem;

ModelInfo inspect_weight_files(const fs::path& shown_path, const std::vector<fs::path>& files) {
    ModelInfo info;
    info.path = shown_path;
    std::vector<io::TensorInfo> tensors;
    for (const auto& file : files) {
        const auto format = io::sniff_weights_format(file);
        info.format = format == io::WeightsFormat::Safetensors ? "safetensors" : "pytorch-zip";
        auto part = io::read_tensor_infos(file);
        tensors.insert(tensors.end(), part.begin(), part.end());
    }
    for (const auto& t : tensors) {
        std::uint64_t numel = 1;
        for (auto d : t.shape) numel *= static_cast<std::uint64_t>(d);
        info.parameter_count += numel;
        ++info.dtype_counts[t.dtype];
    }
    info.tensor_count = tensors.size();
    const auto detection = io::detect_from_tensors(tensors);
    info.kind = detection.kind;
    info.variant = detection.variant;
    info.base_architecture = detection.base_architecture;
    info.dimensions = detection.dimensions;
    info.notes = detection.notes;
    if (info.kind == ModelKind::Lora && files.size() == 1 &&
        io::sniff_weights_format(files.front()) == io::WeightsFormat::Safetensors)
        info.trigger_words = lora::trigger_words(io::SafetensorsFile::open(files.front()).metadata());
    if (info.kind == ModelKind::TextualInversion && files.size() == 1) {
        // The token a prompt uses: the file stem (A1111, ComfyUI), or for diffusers' learned_embeds.* the
        // tensor's name (text/textual_inversion.h: default_token).
        const std::string stem = io::display_path(files.front().stem());
        const bool named_inside = stem == "learned_embeds" && info.variant == "diffusers" && tensors.size() == 1;
        info.trigger_words = {named_inside ? tensors.front().name : stem};
    }
    return info;
}

bool exists_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

ModelInfo inspect_folder(const fs::path& folder) {
    const std::string name = io::display_path(folder);
    if (exists_file(folder / "model_index.json")) {
        ModelInfo info;
        info.path = folder;
        info.kind = ModelKind::DiffusersPipeline;
        info.format = "folder";
        const auto index = io::read_json_file(folder / "model_index.json");
        if (!index.is_object()) throw ModelLoadError(io::display_path(folder / "model_index.json") + ": expected a JSON object");
        if (index.contains("_class_name") && index["_class_name"].is_string())
            info.variant = index["_class_name"].get<std::string>();
        for (const auto& [component, spec] : index.items()) {
            if (component.empty() || component[0] == '_' || !spec.is_array() || spec.size() != 2 || spec[0].is_null())
                continue;
            const auto sub = folder / component;
            std::error_code ec;
            if (!fs::is_directory(sub, ec)) {
                info.notes.push_back("component '" + component + "' listed in model_index.json is missing");
                continue;
            }
            ModelInfo part = inspect_model(sub);
            info.tensor_count += part.tensor_count;
            info.parameter_count += part.parameter_count;
            for (const auto& [dtype, count] : part.dtype_counts) info.dtype_counts[dtype] += count;
            if (part.kind == ModelKind::UNet) info.base_architecture = part.base_architecture;
            info.components.push_back(std::move(part));
        }
        return info;
    }
    if (exists_file(folder / "vocab.json") && exists_file(folder / "merges.txt")) {
        ModelInfo info;
        info.path = folder;
        info.kind = ModelKind::Tokenizer;
        info.format = "folder";
        return info;
    }
    if (exists_file(folder / "scheduler_config.json")) {
        ModelInfo info;
        info.path = folder;
        info.kind = ModelKind::Scheduler;
        info.format = "folder";
        const auto config = io::read_json_file(folder / "scheduler_config.json");
        if (config.is_object() && config.contains("_class_name") && config["_class_name"].is_string())
            info.variant = config["_class_name"].get<std::string>();
        return info;
    }
    if (exists_file(folder / "preprocessor_config.json") && !exists_file(folder / "config.json")) {
        ModelInfo info;
        info.path = folder;
        info.kind = ModelKind::ImageProcessor;
        info.format = "folder";
        return info;
    }
    const auto files = io::component_weight_files(folder);
    if (files.empty())
        throw ModelLoadError(name + ": folder holds no model (expected model_index.json, a config.json with "
                                    "diffusion_pytorch_model.safetensors / model.safetensors, or a tokenizer)");
    ModelInfo info = inspect_weight_files(folder, files);
    info.format = "folder (" + info.format + ")";
    return info;
}

}  // namespace

const char* model_kind_name(ModelKind kind) {
    switch (kind) {
        case ModelKind::Unknown: return "unknown";
        case ModelKind::DiffusersPipeline: return "diffusers-pipeline";
        case ModelKind::SingleFileCheckpoint: return "single-file-checkpoint";
        case ModelKind::UNet: return "unet";
        case ModelKind::Vae: return "vae";
        case ModelKind::TextEncoder: return "text-encoder";
        case ModelKind::ImageEncoder: return "image-encoder";
        case ModelKind::ControlNet: return "controlnet";
        case ModelKind::IpAdapter: return "ip-adapter";
        case ModelKind::Tokenizer: return "tokenizer";
        case ModelKind::Scheduler: return "scheduler";
        case ModelKind::ImageProcessor: return "image-processor";
        case ModelKind::TinyAutoencoder: return "tiny-autoencoder";
        case ModelKind::Lora: return "lora";
        case ModelKind::TextualInversion: return "textual-inversion";
    }
    return "unknown";
}

ModelInfo inspect_model(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw ModelLoadError(io::display_path(path) + ": no such file or folder");
    if (fs::is_directory(path, ec)) return inspect_folder(path);
    return inspect_weight_files(path, {path});
}

}  // namespace ips
