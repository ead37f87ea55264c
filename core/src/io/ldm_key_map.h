#pragma once
// The one place where single-file checkpoint names (the original LDM/CompVis layout community
// checkpoints use) map to diffusers names. Mirrors diffusers' convert_from_ckpt.py for SD1.x/SD2.x.
#include <optional>
#include <string>

namespace ips::io {

enum class LdmComponent { UNet, Vae, TextEncoder };

struct LdmLayout {
    int layers_per_block = 2;  // UNet resnets per down block
    int num_vae_blocks = 4;    // len(vae block_out_channels)
};

// The diffusers name of `key` inside `component`, or nullopt when the key belongs to another component
// (or to none: EMA copies, schedule buffers).
std::optional<std::string> ldm_to_diffusers(const std::string& key, LdmComponent component, const LdmLayout& layout);

// True for VAE attention projections that single files store as 1x1 convolutions ([C, C, 1, 1]) where
// diffusers has linear weights ([C, C]).
bool is_vae_attention_projection(const std::string& diffusers_key);

}  // namespace ips::io
