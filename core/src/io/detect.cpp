#include "io/detect.h"

#include <algorithm>
#include <climits>
#include <unordered_map>

#include "lora/lora_keys.h"

namespace ips::io {
namespace {

class Names {
public:
    explicit Names(const std::vector<TensorInfo>& tensors) {
        for (const auto& t : tensors) by_name_.emplace(t.name, &t);
    }
    bool has(const std::string& name) const { return by_name_.count(name) != 0; }
    bool any_prefix(const std::string& prefix) const {
        return std::any_of(by_name_.begin(), by_name_.end(),
                           [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
    }
    bool any_contains(const std::string& part) const {
        return std::any_of(by_name_.begin(), by_name_.end(),
                           [&](const auto& kv) { return kv.first.find(part) != std::string::npos; });
    }
    // Size of dimension `dim` of tensor `name`, or -1 when absent.
    std::int64_t dim(const std::string& name, std::size_t dim) const {
        auto it = by_name_.find(name);
        if (it == by_name_.end() || it->second->shape.size() <= dim) return -1;
        return it->second->shape[dim];
    }
    // The lowest-numbered "<prefix><i><suffix>" tensor, for adapters whose layer numbering varies.
    std::string first_indexed(const std::string& prefix, const std::string& suffix) const {
        std::string best;
        long best_index = LONG_MAX;
        for (const auto& [name, info] : by_name_) {
            if (name.rfind(prefix, 0) != 0 || name.size() <= prefix.size() + suffix.size()) continue;
            if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
            const std::string middle = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
            // At most 9 digits: no real index is longer, and stol would throw on a longer one.
            if (middle.empty() || middle.size() > 9 || !std::all_of(middle.begin(), middle.end(), ::isdigit)) continue;
            const long index = std::stol(middle);
            if (index < best_index) best_index = index, best = name;
        }
        return best;
    }

private:
    std::unordered_map<std::string, const TensorInfo*> by_name_;
};

Detection detect_ip_adapter(const Names& n) {
    Detection d;
    d.kind = ModelKind::IpAdapter;
    const std::string layers = n.any_prefix("ip_adapter.") ? "ip_adapter." : "adapter_modules.";
    const std::string first_k = n.first_indexed(layers, ".to_k_ip.weight");
    if (!first_k.empty()) {
        const auto cross = n.dim(first_k, 1);
        d.dimensions["cross_attention_dim"] = cross;
        d.base_architecture = base_from_cross_attention_dim(cross);
    }
    if (n.any_contains("lora") || n.any_prefix("image_proj.perceiver_resampler.")) {
        d.variant = "faceid";
        d.notes.push_back("IP-Adapter FaceID (InsightFace embeddings + LoRA) is not supported yet");
    } else if (n.has("image_proj.latents") && n.any_prefix("image_proj.layers.")) {
        d.variant = "plus";  // plus and plus-face share the Resampler architecture
        d.dimensions["num_tokens"] = n.dim("image_proj.latents", 1);
        d.dimensions["image_encoder_hidden_size"] = n.dim("image_proj.proj_in.weight", 1);
    } else if (n.has("image_proj.proj.0.weight") && n.has("image_proj.proj.3.weight")) {
        d.variant = "full-face";
        d.dimensions["image_encoder_hidden_size"] = n.dim("image_proj.proj.0.weight", 1);
    } else if (n.has("image_proj.proj.weight") && n.has("image_proj.norm.weight")) {
        d.variant = "base";  // base, light and vit-G share ImageProjModel
        const auto embed = n.dim("image_proj.proj.weight", 1);
        const auto out = n.dim("image_proj.proj.weight", 0);
        const auto width = n.dim("image_proj.norm.weight", 0);
        d.dimensions["image_embeds_dim"] = embed;
        if (width > 0) d.dimensions["num_tokens"] = out / width;
    } else {
        d.variant = "unknown";
        d.notes.push_back("image_proj layout not recognised (expected ImageProjModel, Resampler or MLPProjModel)");
    }
    return d;
}

Detection detect_lora(const lora::LoraSummary& s) {
    Detection d;
    d.kind = ModelKind::Lora;
    for (const auto f : s.formats) d.variant += (d.variant.empty() ? "" : "+") + std::string(lora::lora_format_name(f));
    d.base_architecture = s.base.base;
    std::size_t total = 0;
    std::string parts;
    for (const auto& [part, count] : s.modules) {
        total += count;
        parts += (parts.empty() ? "" : " + ") + std::string(lora::lora_part_name(part));
        const char* key = part == lora::LoraPart::UNet          ? "unet_modules"
                          : part == lora::LoraPart::TextEncoder ? "text_encoder_modules"
                                                                : "text_encoder_2_modules";
        d.dimensions[key] = static_cast<std::int64_t>(count);
    }
    d.dimensions["modules"] = static_cast<std::int64_t>(total);
    if (s.rank_max > 0) {
        d.dimensions["rank_min"] = s.rank_min;
        d.dimensions["rank_max"] = s.rank_max;
    }
    if (s.base.cross_attention_dim > 0) d.dimensions["cross_attention_dim"] = s.base.cross_attention_dim;
    if (s.base.text_hidden_size > 0) d.dimensions["text_hidden_size"] = s.base.text_hidden_size;
    d.notes.push_back("parts: " + parts);
    if (s.other_tensors > 0)
        d.notes.push_back(std::to_string(s.other_tensors) + " tensors with names that are not LoRA names");
    if (s.base.base == "sdxl" || s.base.base == "sd2.x")
        d.notes.push_back("a LoRA for " + s.base.base + ": only SD1.x models are supported");
    return d;
}

// Textual-inversion embeddings: A1111's string_to_param.* (.pt) or emb_params (.safetensors), SDXL's
// clip_l + clip_g, or diffusers' learned_embeds (one vector or a few, named by the token).
Detection detect_textual_inversion(const Names& n, const std::vector<TensorInfo>& tensors) {
    Detection d;
    const TensorInfo* vectors = nullptr;
    for (const auto& t : tensors) {
        if (t.name.rfind("string_to_param.", 0) == 0) vectors = &t, d.variant = "a1111-pt";
        else if (t.name == "emb_params" && !vectors) vectors = &t, d.variant = "a1111-safetensors";
    }
    if (!vectors && n.has("clip_l") && n.has("clip_g") && tensors.size() == 2) {
        d.kind = ModelKind::TextualInversion;
        d.variant = "sdxl";
        d.base_architecture = "sdxl";
        d.dimensions["vectors"] = n.dim("clip_l", 0);
        d.notes.push_back("an SDXL embedding (clip_l + clip_g): only SD1.x models are supported");
        return d;
    }
    // A lone tensor [D] or [n, D] named like a word, not a module parameter: diffusers' {token: vectors}
    // (latents and image embeddings have more axes; CLIP widths are at least 32, the tiny test models').
    const auto lone_vectors = [](const TensorInfo& t) {
        const bool shaped = t.shape.size() == 1 || (t.shape.size() == 2 && t.shape[0] >= 1 && t.shape[0] <= 75);
        return shaped && t.shape.back() >= 32 && t.name.find('.') == std::string::npos && t.name != "latents";
    };
    if (!vectors && tensors.size() == 1 && lone_vectors(tensors[0])) {
        vectors = &tensors[0];
        d.variant = "diffusers";
        d.notes.push_back("token: " + tensors[0].name);
    }
    if (!vectors || vectors->shape.empty() || vectors->shape.size() > 2) return Detection{};
    d.kind = ModelKind::TextualInversion;
    const std::int64_t width = vectors->shape.back();
    d.dimensions["vectors"] = vectors->shape.size() == 2 ? vectors->shape[0] : 1;
    d.dimensions["width"] = width;
    d.base_architecture = width == 768 ? "sd1.x" : width == 1024 ? "sd2.x" : "custom (width " + std::to_string(width) + ")";
    if (width == 1024) d.notes.push_back("an SD2.x embedding (1024 wide): only SD1.x models are supported");
    return d;
}

}  // namespace

std::string base_from_cross_attention_dim(std::int64_t dim) {
    if (dim == 768) return "sd1.x";
    if (dim == 1024) return "sd2.x";
    if (dim == 2048) return "sdxl";
    return "custom (cross_attention_dim " + std::to_string(dim) + ")";
}

Detection detect_from_tensors(const std::vector<TensorInfo>& tensors) {
    const Names n(tensors);
    Detection d;
    if (n.any_prefix("image_proj.") && (n.any_prefix("ip_adapter.") || n.any_prefix("adapter_modules.")))
        return detect_ip_adapter(n);
    if (const auto lora = lora::summarize_lora(tensors); lora.is_lora()) return detect_lora(lora);
    if (auto ti = detect_textual_inversion(n, tensors); ti.kind != ModelKind::Unknown) return ti;

    if (n.any_prefix("model.diffusion_model.")) {
        d.kind = ModelKind::SingleFileCheckpoint;
        if (n.any_prefix("conditioner.embedders.")) d.variant = "sdxl";
        else if (n.any_prefix("cond_stage_model.model.")) d.variant = "sd2.x";
        else if (n.any_prefix("cond_stage_model.transformer.")) d.variant = "sd1.x";
        else d.variant = "unknown";
        d.base_architecture = d.variant;
        const auto in = n.dim("model.diffusion_model.input_blocks.0.0.weight", 1);
        d.dimensions["in_channels"] = in;
        if (in == 9) d.notes.push_back("inpainting model (9 input channels)");
        if (!n.any_prefix("first_stage_model.")) d.notes.push_back("no VAE weights (first_stage_model.*)");
        if (d.variant == "sd2.x" || d.variant == "sdxl")
            d.notes.push_back(d.variant + " checkpoints are not supported yet (SD1.x only)");
        return d;
    }
    if (n.any_prefix("control_model.")) {
        d.kind = ModelKind::ControlNet;
        d.variant = "ldm-layout";
        d.notes.push_back("single-file ControlNet in the original layout; use the diffusers folder");
        return d;
    }
    if (n.any_prefix("controlnet_cond_embedding.")) {
        d.kind = ModelKind::ControlNet;
        const auto cross = n.dim("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight", 1);
        if (cross > 0) {
            d.dimensions["cross_attention_dim"] = cross;
            d.base_architecture = base_from_cross_attention_dim(cross);
        }
        d.dimensions["conditioning_channels"] = n.dim("controlnet_cond_embedding.conv_in.weight", 1);
        return d;
    }
    if (n.has("conv_in.weight") && n.any_prefix("down_blocks.") && n.any_prefix("time_embedding.")) {
        d.kind = ModelKind::UNet;
        const auto cross = n.dim("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight", 1);
        if (cross > 0) {
            d.dimensions["cross_attention_dim"] = cross;
            d.base_architecture = base_from_cross_attention_dim(cross);
        }
        if (n.any_prefix("add_embedding.")) d.notes.push_back("SDXL-style added conditioning (add_embedding)");
        d.dimensions["in_channels"] = n.dim("conv_in.weight", 1);
        return d;
    }
    if (n.has("encoder.conv_in.weight") && n.has("decoder.conv_in.weight")) {
        d.kind = ModelKind::Vae;
        d.dimensions["latent_channels"] = n.dim("decoder.conv_in.weight", 1);
        return d;
    }
    if (n.has("decoder.layers.0.weight") || n.has("encoder.layers.0.weight")) {
        d.kind = ModelKind::TinyAutoencoder;
        d.variant = "diffusers";
        if (n.has("decoder.layers.0.weight")) d.dimensions["latent_channels"] = n.dim("decoder.layers.0.weight", 1);
        else d.notes.push_back("no decoder (decoder.layers.*): previews need the TAESD decoder");
        return d;
    }
    // madebyollin's taesd_decoder / taesd_encoder files: a bare nn.Sequential (the decoder's first entry
    // is its parameter-free clamp, so its first convolution is "1"; the encoder's is "0", from RGB).
    if (n.has("1.weight") && n.has("3.conv.0.weight") && n.dim("1.weight", 2) == 3) {
        d.kind = ModelKind::TinyAutoencoder;
        d.variant = "decoder";
        d.dimensions["latent_channels"] = n.dim("1.weight", 1);
        return d;
    }
    if (n.has("0.weight") && n.has("1.conv.0.weight") && n.dim("0.weight", 1) == 3) {
        d.kind = ModelKind::TinyAutoencoder;
        d.variant = "encoder";
        d.notes.push_back("a TAESD encoder: previews need the decoder (taesd_decoder)");
        return d;
    }
    if (n.has("text_model.embeddings.token_embedding.weight")) {
        d.kind = ModelKind::TextEncoder;
        d.variant = n.has("text_projection.weight") ? "with-projection" : "";
        d.dimensions["hidden_size"] = n.dim("text_model.embeddings.token_embedding.weight", 1);
        return d;
    }
    if (n.has("vision_model.embeddings.patch_embedding.weight")) {
        d.kind = ModelKind::ImageEncoder;
        d.variant = n.has("visual_projection.weight") ? "with-projection" : "without-projection";
        d.dimensions["hidden_size"] = n.dim("vision_model.embeddings.patch_embedding.weight", 0);
        d.dimensions["patch_size"] = n.dim("vision_model.embeddings.patch_embedding.weight", 2);
        if (n.has("visual_projection.weight")) d.dimensions["projection_dim"] = n.dim("visual_projection.weight", 0);
        return d;
    }
    return d;
}

}  // namespace ips::io
