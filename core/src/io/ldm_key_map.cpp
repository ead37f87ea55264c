#include "io/ldm_key_map.h"

#include <vector>

namespace ips::io {
namespace {

bool take_prefix(std::string& s, const std::string& prefix) {
    if (s.rfind(prefix, 0) != 0) return false;
    s.erase(0, prefix.size());
    return true;
}

// Splits "12.rest" into 12 and "rest"; false when `s` does not start with a number and a dot.
bool take_index(std::string& s, int& index) {
    const auto dot = s.find('.');
    // More than 6 digits is no block index (and would overflow stoi: found by fuzzing).
    if (dot == std::string::npos || dot == 0 || dot > 6) return false;
    for (std::size_t i = 0; i < dot; ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    index = std::stoi(s.substr(0, dot));
    s.erase(0, dot + 1);
    return true;
}

// LDM ResBlock names -> diffusers ResnetBlock2D names.
std::string unet_resnet(const std::string& rest) {
    static const std::vector<std::pair<std::string, std::string>> kMap = {
        {"in_layers.0.", "norm1."}, {"in_layers.2.", "conv1."},       {"out_layers.0.", "norm2."},
        {"out_layers.3.", "conv2."}, {"emb_layers.1.", "time_emb_proj."}, {"skip_connection.", "conv_shortcut."},
    };
    for (const auto& [from, to] : kMap)
        if (rest.rfind(from, 0) == 0) return to + rest.substr(from.size());
    return rest;
}

std::optional<std::string> map_unet(std::string k, const LdmLayout& layout) {
    if (!take_prefix(k, "model.diffusion_model.")) return std::nullopt;
    const int per_block = layout.layers_per_block + 1;
    int i = 0, j = 0;
    if (take_prefix(k, "time_embed.0.")) return "time_embedding.linear_1." + k;
    if (take_prefix(k, "time_embed.2.")) return "time_embedding.linear_2." + k;
    if (take_prefix(k, "input_blocks.0.0.")) return "conv_in." + k;
    if (take_prefix(k, "out.0.")) return "conv_norm_out." + k;
    if (take_prefix(k, "out.2.")) return "conv_out." + k;
    if (take_prefix(k, "input_blocks.") && take_index(k, i) && take_index(k, j)) {
        const int block = (i - 1) / per_block, layer = (i - 1) % per_block;
        const std::string base = "down_blocks." + std::to_string(block) + ".";
        if (layer == layout.layers_per_block) {
            if (take_prefix(k, "op.")) return base + "downsamplers.0.conv." + k;
            return std::nullopt;
        }
        if (j == 0) return base + "resnets." + std::to_string(layer) + "." + unet_resnet(k);
        return base + "attentions." + std::to_string(layer) + "." + k;
    }
    if (take_prefix(k, "middle_block.") && take_index(k, i)) {
        if (i == 0) return "mid_block.resnets.0." + unet_resnet(k);
        if (i == 1) return "mid_block.attentions.0." + k;
        if (i == 2) return "mid_block.resnets.1." + unet_resnet(k);
        return std::nullopt;
    }
    if (take_prefix(k, "output_blocks.") && take_index(k, i) && take_index(k, j)) {
        const std::string base = "up_blocks." + std::to_string(i / per_block) + ".";
        const std::string layer = std::to_string(i % per_block);
        if (j == 0) return base + "resnets." + layer + "." + unet_resnet(k);
        if (take_prefix(k, "conv.")) return base + "upsamplers.0.conv." + k;
        return base + "attentions." + layer + "." + k;
    }
    return std::nullopt;
}

std::string vae_inner(const std::string& rest) {
    static const std::vector<std::pair<std::string, std::string>> kMap = {
        {"nin_shortcut.", "conv_shortcut."}, {"norm.", "group_norm."}, {"q.", "to_q."},
        {"k.", "to_k."}, {"v.", "to_v."}, {"proj_out.", "to_out.0."},
    };
    for (const auto& [from, to] : kMap)
        if (rest.rfind(from, 0) == 0) return to + rest.substr(from.size());
    return rest;
}

std::optional<std::string> map_vae(std::string k, const LdmLayout& layout) {
    if (!take_prefix(k, "first_stage_model.")) return std::nullopt;
    if (k.rfind("quant_conv.", 0) == 0 || k.rfind("post_quant_conv.", 0) == 0) return k;
    std::string side;
    if (take_prefix(k, "encoder.")) side = "encoder.";
    else if (take_prefix(k, "decoder.")) side = "decoder.";
    else return std::nullopt;
    for (const char* same : {"conv_in.", "conv_out."})
        if (k.rfind(same, 0) == 0) return side + k;
    if (take_prefix(k, "norm_out.")) return side + "conv_norm_out." + k;
    if (take_prefix(k, "mid.block_1.")) return side + "mid_block.resnets.0." + vae_inner(k);
    if (take_prefix(k, "mid.block_2.")) return side + "mid_block.resnets.1." + vae_inner(k);
    if (take_prefix(k, "mid.attn_1.")) return side + "mid_block.attentions.0." + vae_inner(k);
    int i = 0, j = 0;
    const bool down = side == "encoder.";
    if (take_prefix(k, down ? "down." : "up.") && take_index(k, i)) {
        // The decoder's up.{i} runs in reverse: up.0 is diffusers' last up block.
        const int block = down ? i : layout.num_vae_blocks - 1 - i;
        const std::string base = side + (down ? "down_blocks." : "up_blocks.") + std::to_string(block) + ".";
        if (take_prefix(k, "block.") && take_index(k, j)) return base + "resnets." + std::to_string(j) + "." + vae_inner(k);
        if (take_prefix(k, "downsample.conv.")) return base + "downsamplers.0.conv." + k;
        if (take_prefix(k, "upsample.conv.")) return base + "upsamplers.0.conv." + k;
    }
    return std::nullopt;
}

std::optional<std::string> map_text(std::string k) {
    if (!take_prefix(k, "cond_stage_model.transformer.")) return std::nullopt;
    if (k.rfind("text_model.", 0) == 0) return k;
    return "text_model." + k;  // older checkpoints omit the text_model level
}

}  // namespace

std::optional<std::string> ldm_to_diffusers(const std::string& key, LdmComponent component, const LdmLayout& layout) {
    switch (component) {
        case LdmComponent::UNet: return map_unet(key, layout);
        case LdmComponent::Vae: return map_vae(key, layout);
        case LdmComponent::TextEncoder: return map_text(key);
    }
    return std::nullopt;
}

bool is_vae_attention_projection(const std::string& k) {
    if (k.find("mid_block.attentions.0.") == std::string::npos) return false;
    for (const char* suffix : {"to_q.weight", "to_k.weight", "to_v.weight", "to_out.0.weight"}) {
        const std::string s = suffix;
        if (k.size() >= s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0) return true;
    }
    return false;
}

}  // namespace ips::io
