#pragma once
// What a file or folder the user points at is, recognised from its tensor names (never its file name).
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ips {

enum class ModelKind {
    Unknown,
    DiffusersPipeline,     // folder with model_index.json
    SingleFileCheckpoint,  // LDM/CompVis layout: model.diffusion_model.*, first_stage_model.*, ...
    UNet,
    Vae,
    TextEncoder,
    ImageEncoder,  // CLIP vision model (with or without projection)
    ControlNet,
    IpAdapter,
    Tokenizer,
    Scheduler,
    ImageProcessor,
    TinyAutoencoder,  // TAESD (diffusers AutoencoderTiny, or madebyollin's taesd_decoder file): live previews
    Lora,             // LoRA / LyCORIS weight updates (kohya, diffusers, PEFT, LoHa, LoKr)
    TextualInversion, // textual-inversion embedding (A1111 .pt / .safetensors, diffusers learned_embeds)
};

// Stable lower-case names used by the CLI and in JSON ("ip-adapter", "unet", ...).
const char* model_kind_name(ModelKind kind);

struct ModelInfo {
    std::filesystem::path path;
    ModelKind kind = ModelKind::Unknown;
    // Variant within the kind: IP-Adapter "base" / "plus" / "full-face" / "faceid"; single-file
    // "sd1.x" / "sd2.x" / "sdxl"; image encoder "with-projection"; ...
    std::string variant;
    // "sd1.x", "sd2.x", "sdxl", or "custom (cross_attention_dim N)" for other widths; empty if not applicable.
    std::string base_architecture;
    std::string format;  // "safetensors", "pytorch-zip", "folder"
    std::size_t tensor_count = 0;
    std::uint64_t parameter_count = 0;
    std::map<std::string, std::size_t> dtype_counts;  // "F32" -> number of tensors
    std::map<std::string, std::int64_t> dimensions;   // e.g. "cross_attention_dim" -> 768
    std::vector<std::string> notes;                   // limitations, e.g. "FaceID is not supported yet"
    std::vector<std::string> trigger_words;           // LoRA: the tags of kohya's ss_tag_frequency, most used first;
                                                      // textual inversion: the token the prompt uses
    std::vector<ModelInfo> components;                // sub-models of a folder
};

// Throws ModelLoadError naming the path when it is unreadable, corrupt, or not a model at all.
ModelInfo inspect_model(const std::filesystem::path& path);

}  // namespace ips
