#pragma once
// Which cross-attention layers an IP-Adapter acts on, and how strongly.
//
// `scale` is a number (every layer) or a dict as diffusers' set_ip_adapter_scale takes it:
//   {"down": {"block_2": [0.0, 1.0]}, "mid": 0.5, "up": {"block_1": [0.0, 1.0, 0.0]}}
// block_N indexes the UNet's down_blocks/up_blocks; a block's value is one number for all its attention
// layers or one per layer; layers not named get 0; naming a block without attention is an error.
//
// `mode` picks a layer set on top of a number scale, as ComfyUI_IPAdapter_plus's weight types for SD1.5:
//   full        every layer
//   style       down blocks 0-1, the last attention of up block 1, up blocks 2-3 ("style transfer")
//   composition down block 2: first attention at 1/4, second at full scale ("composition")
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ips::ipadapter {

// One value per cross-attention layer, in the order of `layer_names` (diffusers module names such as
// "down_blocks.0.attentions.1.transformer_blocks.0.attn2"). Throws InputError on malformed dicts,
// unknown modes, or blocks the UNet does not have.
std::vector<double> resolve_layer_scales(const nlohmann::json& scale, std::string_view mode,
                                         const std::vector<std::string>& layer_names);

// "full", "style", "composition".
std::vector<std::string> layer_modes();

}  // namespace ips::ipadapter
