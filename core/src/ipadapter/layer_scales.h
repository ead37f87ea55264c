#pragma once
// Which cross-attention layers an IP-Adapter acts on, and how strongly.
//
// `scale` is a number (every layer) or a dict as diffusers' set_ip_adapter_scale takes it:
//   {"down": {"block_2": [0.0, 1.0]}, "mid": 0.5, "up": {"block_1": [0.0, 1.0, 0.0]}}
// block_N indexes the UNet's down_blocks/up_blocks; a block's value is one number for all its attention
// layers or one per layer; layers not named get 0; naming a block without attention is an error.
//
// `weight_type` shapes a number scale over the layers, as ComfyUI_IPAdapter_plus's weight types (names
// and formulas in ips/ip_adapter_options.h and docs/ip-adapter-controls.md). ComfyUI numbers the layers
// by its transformer_index, the UNet's forward order (down 0-5, mid 6, up 7-15 for SD1.5), which is the
// order of `layer_names` here; diffusers' module order (down, up, mid) only matters for the weight file
// (adapter_layer_order). The old modes full/style/composition are aliases (ips::canonical_ip_weight_type).
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ips::ipadapter {

// One value per cross-attention layer, in the order of `layer_names` (diffusers module names such as
// "down_blocks.0.attentions.1.transformer_blocks.0.attn2"). Throws InputError on malformed dicts,
// unknown weight types, or blocks the UNet does not have.
std::vector<double> resolve_layer_scales(const nlohmann::json& scale, std::string_view weight_type,
                                         const std::vector<std::string>& layer_names);

// Which image tokens a layer attends to under a weight type.
enum class LayerTokens {
    Reference,    // the adapter's (combined) references, in both guidance branches
    Composition,  // "style and composition": the second reference
    // The "precise" types: the unconditional branch gets the reference and the conditional branch
    // nothing, so guidance steers away from what these layers would take from the reference.
    UnconditionalOnly,
};
std::vector<LayerTokens> resolve_layer_tokens(std::string_view weight_type, const std::vector<std::string>& layer_names);

}  // namespace ips::ipadapter
