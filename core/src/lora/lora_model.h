#pragma once
// LoRA files merged into loaded networks. A file is read into module updates (lora_keys.h names them),
// matched to the parameters of our UNet2DConditionModel / CLIPTextModel (which carry the diffusers /
// transformers names), checked completely, and only then merged:
//   W = W_base + sum_i weight_i * scale_i * dW_i,   computed in float32 from the kept W_base, rounded once
// to the parameter's dtype. LoRA: dW = up @ down, scale = alpha / rank (alpha = rank when the file has none,
// kohya's rule per module; diffusers instead takes the most common rank of the file for every module).
// LoHa: dW = (w1_a @ w1_b) * (w2_a @ w2_b), scale = alpha / rank(w1_b). LoKr: dW = kron(w1, w2) with each
// w = w or w_a @ w_b, scale = alpha / rank of the factorised one (1 when neither is factorised).
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "io/ldm_key_map.h"
#include "lora/lora_keys.h"
#include "nn/clip_models.h"
#include "nn/unet_2d_condition.h"

namespace ips::lora {

// One module's tensors as the file holds them.
struct LoraModuleUpdate {
    LoraPart part = LoraPart::UNet;
    std::string module;  // dotted, or kohya-flat when `flat`
    bool flat = false;
    LoraFormat format = LoraFormat::Kohya;
    std::map<LoraRole, at::Tensor> tensors;
    std::vector<std::string> keys;  // the file's tensor names, for messages
};

struct LoraFileContents {
    std::filesystem::path path;
    std::vector<LoraModuleUpdate> modules;
    std::vector<std::string> unknown_keys;  // tensors whose names are not LoRA names
    std::map<std::string, std::string> metadata;
    LoraBase base;
};

// Reads a .safetensors / .bin / .pt LoRA and groups its tensors per module. Throws ModelLoadError naming
// the file when it is unreadable, truncated, not a LoRA ("this is a <kind>, not a LoRA"), holds non-finite
// values, or uses a variant this loader does not merge (DoRA, Tucker cores).
LoraFileContents read_lora_file(const std::filesystem::path& path);

// The parameters a LoRA may change in one network: Linear and Conv2d weights, by module name.
struct LoraTargets {
    std::map<std::string, std::vector<std::int64_t>> weights;  // "down_blocks.0...to_q" -> weight shape
    std::map<std::string, std::string> flat;                   // kohya-flat name -> module name
    std::int64_t width = 0;  // UNet: cross-attention width; text encoder: hidden size
    std::string base;        // the model's base ("sd1.x", ...), UNet only
    io::LdmLayout ldm;       // UNet only
    bool present = false;
};

LoraTargets unet_targets(nn::UNet2DConditionModelImpl& unet);
LoraTargets text_encoder_targets(nn::CLIPTextModelImpl& text_encoder);

// A module update matched to its parameter and checked: delta_weight() cannot fail on it.
struct ResolvedUpdate {
    LoraPart part = LoraPart::UNet;
    std::string param;  // "down_blocks.0.attentions.0.proj_in.weight"
    std::vector<std::int64_t> shape;
    LoraModuleUpdate update;
    double scale = 1.0;  // alpha / rank
};

struct ResolvedLora {
    std::filesystem::path path;
    std::vector<ResolvedUpdate> updates;
    std::map<std::string, std::string> metadata;
};

// Matches every module (throws one ModelLoadError listing all that match nothing, and one naming both
// bases for a LoRA made for another base model). `text_encoder` may be absent (present = false).
ResolvedLora resolve_lora(const LoraFileContents& contents, const LoraTargets& unet, const LoraTargets& text_encoder);

// scale * dW, shaped like the parameter, in `dtype` (float32 or float64) on `device`.
at::Tensor delta_weight(const ResolvedUpdate& u, at::ScalarType dtype, const at::Device& device);

struct LoraRequest {
    std::filesystem::path path;
    double weight = 1.0;
};

// The "base + active LoRAs" state of one loaded UNet + text encoder pair. apply() brings the weights to
// exactly W_base + sum weight_i * dW_i for the requested list, touching only parameters whose set of
// contributions changed, always recomputing from the kept originals (so removing every LoRA restores the
// base bit for bit). Every file is read and checked before any weight changes: after an error the model
// is as it was.
class LoraState {
public:
    void apply(nn::UNet2DConditionModelImpl& unet, nn::CLIPTextModelImpl* text_encoder,
               const std::vector<LoraRequest>& loras);
    // Number of parameters that currently differ from the base.
    std::size_t modified_parameters() const { return applied_.size(); }
    // Parameters written by the last apply() (for tests and the benchmark).
    std::size_t last_written() const { return last_written_; }
    // "path@stamp:weight;..." of the active list: part of the keys of caches that depend on the weights.
    const std::string& signature() const { return signature_; }

private:
    struct Cached {
        std::string stamp;  // size + modification time
        std::shared_ptr<const ResolvedLora> lora;
    };
    using Contributions = std::vector<std::pair<std::string, double>>;  // (file key, weight)
    std::map<std::string, Cached> files_;
    std::map<std::string, at::Tensor> originals_;  // "unet.<param>" / "text_encoder.<param>"
    std::map<std::string, Contributions> applied_;
    std::size_t last_written_ = 0;
    std::string signature_;
};

}  // namespace ips::lora
