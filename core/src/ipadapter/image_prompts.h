#pragma once
// The image prompts of one generation: each adapter's image tokens projected once into every
// cross-attention layer's keys and values (to_k_ip/to_v_ip), then handed to the UNet at each step
// with that layer's scale, for the steps inside the adapter's start/end range.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipadapter/image_embedding.h"
#include "ipadapter/ip_adapter_model.h"
#include "nn/attention_module.h"
#include "nn/unet_2d_condition.h"

namespace ips::ipadapter {

// One adapter's references for a generation.
struct AdapterConditioning {
    IPAdapterModel adapter{nullptr};
    // Several images: tokens concatenated in this order (as diffusers) or combined (combine_embeds).
    // "style and composition": exactly two, the style reference then the composition reference.
    std::vector<ImageEmbedding> images;
    // Per image; empty = all 1. With concat (and style and composition) it scales the image's token
    // values; with the other combine modes it scales the image's embedding before combining (as
    // ComfyUI's IPAdapterEncoder weight).
    std::vector<double> image_weights;
    // Per image, where it applies: [H, W] float32 0/1 at the output size (diffusers' ip_adapter_masks after
    // IPAdapterMaskProcessor); empty = everywhere. With regions every image is attended separately and its
    // output multiplied by its region (IPAdapterAttnProcessor2_0); needs combine_embeds concat.
    std::vector<at::Tensor> regions;
    // The unconditional input: a negative reference, else diffusers' choice (zero image_embeds for base,
    // the encoder on a zero image for plus/full-face, which the caller supplies here).
    std::optional<ImageEmbedding> negative;
    std::vector<double> layer_scales;  // per cross-attention layer, forward order (resolve_layer_scales)
    double start = 0.0;                // fraction of the denoising steps
    double end = 1.0;
    // ComfyUI_IPAdapter_plus's controls (ips/ip_adapter_options.h). weight_type also shapes
    // layer_scales (resolve_layer_scales); here it picks each layer's tokens (resolve_layer_tokens).
    std::string weight_type = "linear";
    std::string combine_embeds = "concat";
    std::string embeds_scaling = "V only";
};

// ComfyUI's combine_embeds over the images' encoder outputs [N, ...] -> [1, ...] (IPAdapterPlus.py
// applies it to the CLIP embeddings, before the projection). "concat" is not a reduction: not here.
at::Tensor combine_embeddings(const at::Tensor& embeddings, std::string_view mode);

// ComfyUI's embeds_scaling for one layer's image attention: `attention` holds the projected keys and
// values and the layer weight in `scale`; the result computes
//   V only:                 out += w * attn(q, K, V)
//   K+V:                    out += attn(q, w*K, w*V)
//   K+V w/ C penalty:       w' = w * C / 1280,  out += attn(q, w'*K, w'*V)
//   K+mean(V) w/ C penalty: w' = w * C / 1280,  out += attn(q, w'*K, V - mean(V) + w'*mean(V))
// with C the layer's attention width (heads * head_dim) and mean over the image tokens.
nn::ImagePromptAttention scale_image_attention(nn::ImagePromptAttention attention, std::string_view mode);

// How the UNet batch is laid out: [uncond x copies, cond x copies] with classifier-free guidance,
// [cond x copies] without (diffusers' order).
struct BatchLayout {
    bool classifier_free_guidance = true;
    std::int64_t copies = 1;  // num_images_per_prompt
};

// The tokens an adapter's projection gives: {uncond, cond}, each [1, images * tokens, C] with concat,
// [1, tokens, C] when combined or for "style and composition" (then the style reference's tokens).
std::pair<at::Tensor, at::Tensor> image_prompt_tokens(AdapterConditioning& conditioning);

// "style and composition": the composition reference's tokens [1, tokens, C].
at::Tensor composition_prompt_tokens(AdapterConditioning& conditioning);

class PreparedImagePrompts {
public:
    PreparedImagePrompts() = default;
    // Projects every adapter's tokens into each layer's keys and values once.
    PreparedImagePrompts(nn::UNet2DConditionModelImpl& unet, std::vector<AdapterConditioning> adapters, const BatchLayout& layout);

    bool empty() const { return adapters_.empty(); }
    // The image attentions per cross-attention layer for step `step` of `steps` (0-based), or nullptr
    // when no adapter is active at that step. Valid until the next call.
    const std::vector<std::vector<nn::ImagePromptAttention>>* for_step(int step, int steps);

private:
    struct Prepared {
        // Per layer: one attention (key/value/scale), or with regions one per image.
        std::vector<std::vector<nn::ImagePromptAttention>> layers;
        double start = 0.0, end = 1.0;
    };
    std::vector<Prepared> adapters_;
    std::vector<std::vector<nn::ImagePromptAttention>> current_;
};

// Whether step `step` of `steps` lies in [start, end) as fractions of the run (end 1 includes the last).
bool step_in_range(int step, int steps, double start, double end);

}  // namespace ips::ipadapter
