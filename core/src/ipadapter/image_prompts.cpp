#include "ipadapter/image_prompts.h"

#include <ATen/ATen.h>

#include "ipadapter/layer_scales.h"
#include "ips/errors.h"
#include "ips/ip_adapter_options.h"

namespace ips::ipadapter {
namespace {

at::Tensor adapter_input(const IPAdapterModelImpl& adapter, const ImageEmbedding& e) {
    return adapter.uses_hidden_states() ? e.hidden_states : e.image_embeds;
}

void check_embedding(const IPAdapterModelImpl& adapter, const ImageEmbedding& e, const std::string& what) {
    const at::Tensor in = adapter_input(adapter, e);
    if (!in.defined() || in.size(-1) != adapter.input_dim)
        throw InputError(adapter.file + ": " + what + " has " + (in.defined() ? std::to_string(in.size(-1)) : "no") +
                         "-wide " + (adapter.uses_hidden_states() ? "hidden states" : "image_embeds") + ", the adapter expects " +
                         std::to_string(adapter.input_dim) + " (was it made with another image encoder?)");
}

bool is_style_and_composition(const AdapterConditioning& c) {
    return canonical_ip_weight_type(c.weight_type) == "style and composition";
}

// Whether the images are reduced to one embedding (ComfyUI combines only when there are several).
bool combines_images(const AdapterConditioning& c) {
    return c.combine_embeds != "concat" && c.images.size() > 1 && !is_style_and_composition(c);
}

void check_choices(const AdapterConditioning& c) {
    const std::string& file = c.adapter->file;
    if (!is_ip_choice(ip_combine_embeds_modes(), c.combine_embeds))
        throw InputError(file + ": combine_embeds '" + c.combine_embeds + "' is unknown (expected " +
                         ip_choice_list(ip_combine_embeds_modes()) + ")");
    if (!is_ip_choice(ip_embeds_scaling_modes(), c.embeds_scaling))
        throw InputError(file + ": embeds_scaling '" + c.embeds_scaling + "' is unknown (expected " +
                         ip_choice_list(ip_embeds_scaling_modes()) + ")");
    if (is_style_and_composition(c) && c.images.size() != 2)
        throw InputError(file + ": weight_type 'style and composition' needs exactly two reference images (the style, then the "
                         "composition); got " + std::to_string(c.images.size()));
}

void check_regions(const AdapterConditioning& c) {
    if (c.regions.empty()) return;
    const std::string& file = c.adapter->file;
    if (c.regions.size() != c.images.size())
        throw InputError(file + ": " + std::to_string(c.regions.size()) + " regions for " + std::to_string(c.images.size()) +
                         " reference images (one region per image, in the same order)");
    if (is_style_and_composition(c) || combines_images(c))
        throw InputError(file + ": regions need every image attended on its own (combine_embeds concat, not '" +
                         (is_style_and_composition(c) ? std::string("style and composition") : c.combine_embeds) + "')");
    const auto& first = c.regions.front();
    for (const auto& r : c.regions)
        if (r.dim() != 2 || r.sizes() != first.sizes())
            throw InputError(file + ": the regions of one adapter must all be [height, width] at the output size");
}

// Per-token value weights [1, 1, N, 1] for `tokens` tokens of each listed image weight; undefined when
// every weight is 1 (the reference's behaviour).
at::Tensor value_weights(const std::vector<double>& weights, std::int64_t tokens_per_image, at::ScalarType dtype) {
    bool weighted = false;
    for (double w : weights) weighted = weighted || w != 1.0;
    if (!weighted) return {};
    std::vector<float> per_token;
    for (double w : weights) per_token.insert(per_token.end(), tokens_per_image, static_cast<float>(w));
    return at::tensor(per_token).to(dtype).view({1, 1, -1, 1});
}

}  // namespace

bool step_in_range(int step, int steps, double start, double end) {
    const double at = static_cast<double>(step) / steps;
    return at >= start && (at < end || end >= 1.0);
}

at::Tensor combine_embeddings(const at::Tensor& e, std::string_view mode) {
    if (mode == "add") return e.sum(0, true);
    if (mode == "subtract") return (e[0] - e.slice(0, 1).mean(0)).unsqueeze(0);
    if (mode == "average") return e.mean(0, true);
    // ComfyUI divides by the norm over dim 0, across the images, per embedding value (not per image).
    if (mode == "norm average") return (e / e.pow(2).sum(0, true).sqrt()).mean(0, true);  // torch.norm(e, dim=0)
    throw InputError("combine_embeds '" + std::string(mode) + "' is not a reduction (expected add, subtract, average or norm average)");
}

nn::ImagePromptAttention scale_image_attention(nn::ImagePromptAttention a, std::string_view mode) {
    if (mode == "V only") return a;  // forward multiplies the attention's output by scale
    const bool penalty = mode == "K+V w/ C penalty" || mode == "K+mean(V) w/ C penalty";
    if (!penalty && mode != "K+V")
        throw InputError("embeds_scaling '" + std::string(mode) + "' is unknown (expected " + ip_choice_list(ip_embeds_scaling_modes()) + ")");
    // C is ComfyUI's ip_k.shape[2]: the attention width heads * head_dim of [B, tokens, heads * head_dim].
    const double width = static_cast<double>(a.key.size(1) * a.key.size(3));
    const double w = penalty ? a.scale * width / 1280.0 : a.scale;
    a.key = a.key * w;
    if (mode == "K+mean(V) w/ C penalty") {
        const at::Tensor mean = a.value.mean({2}, true);  // over the image tokens, per channel
        a.value = (a.value - mean) + mean * w;
    } else {
        a.value = a.value * w;
    }
    a.scale = 1.0;  // the weight is inside the keys and values now
    return a;
}

std::pair<at::Tensor, at::Tensor> image_prompt_tokens(AdapterConditioning& c) {
    auto& adapter = *c.adapter;
    if (c.images.empty()) throw InputError(adapter.file + ": an IP-Adapter needs at least one reference image");
    check_choices(c);
    for (std::size_t i = 0; i < c.images.size(); ++i) check_embedding(adapter, c.images[i], "reference image " + std::to_string(i + 1));
    std::vector<at::Tensor> inputs;
    for (const auto& e : c.images) inputs.push_back(adapter_input(adapter, e));
    at::Tensor cond;
    std::int64_t negative_copies = static_cast<std::int64_t>(c.images.size());
    if (is_style_and_composition(c)) {
        cond = adapter.project(inputs[0]);  // the style reference; composition_prompt_tokens gives the other
        negative_copies = 1;
    } else if (combines_images(c)) {
        // Weights scale the embeddings, then one embedding goes through the projection (ComfyUI's order).
        std::vector<at::Tensor> weighted;
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            const double w = c.image_weights.empty() ? 1.0 : c.image_weights[i];
            weighted.push_back(w == 1.0 ? inputs[i] : inputs[i] * w);
        }
        cond = adapter.project(combine_embeddings(at::cat(weighted, 0), c.combine_embeds));
        negative_copies = 1;
    } else {
        // All images through the projection as one batch, then their tokens side by side.
        cond = adapter.project(at::cat(inputs, 0)).flatten(0, 1).unsqueeze(0);
    }

    at::Tensor negative_input;
    if (c.negative) {
        check_embedding(adapter, *c.negative, "the negative image");
        negative_input = adapter_input(adapter, *c.negative);
    } else if (!adapter.uses_hidden_states()) {
        negative_input = at::zeros_like(inputs.front());
    } else {
        throw InputError(adapter.file + ": plus/full-face adapters need the encoder's zero-image output as the unconditional input");
    }
    const at::Tensor one_negative = adapter.project(negative_input);  // [1, tokens, C]
    const at::Tensor uncond = one_negative.repeat({1, negative_copies, 1});
    return {uncond, cond};
}

at::Tensor composition_prompt_tokens(AdapterConditioning& c) {
    if (!is_style_and_composition(c) || c.images.size() != 2)
        throw InputError(c.adapter->file + ": composition tokens need weight_type 'style and composition' with two images");
    return c.adapter->project(adapter_input(*c.adapter, c.images[1]));
}

PreparedImagePrompts::PreparedImagePrompts(nn::UNet2DConditionModelImpl& unet, std::vector<AdapterConditioning> adapters,
                                           const BatchLayout& layout) {
    c10::InferenceMode guard;
    auto unet_layers = unet.cross_attention_layers();
    const auto layer_names = unet.cross_attention_layer_names();
    for (auto& c : adapters) {
        if (c.layer_scales.size() != unet_layers.size())
            throw InputError(c.adapter->file + ": " + std::to_string(c.layer_scales.size()) + " layer scales for " +
                             std::to_string(unet_layers.size()) + " cross-attention layers");
        if (!c.image_weights.empty() && c.image_weights.size() != c.images.size())
            throw InputError(c.adapter->file + ": " + std::to_string(c.image_weights.size()) + " image weights for " +
                             std::to_string(c.images.size()) + " images");
        if (!(c.start >= 0.0 && c.start < c.end && c.end <= 1.0))
            throw InputError(c.adapter->file + ": start/end must satisfy 0 <= start < end <= 1");
        const auto [uncond, cond] = image_prompt_tokens(c);
        const bool pair = is_style_and_composition(c);
        const auto layer_tokens = resolve_layer_tokens(c.weight_type, layer_names);
        auto per_copy = [&](const at::Tensor& t) { return layout.copies == 1 ? t : t.repeat_interleave(layout.copies, 0); };

        // The batch of image tokens each kind of layer attends to, [uncond, cond] with guidance (diffusers'
        // order); projected once per branch, then repeated: the copies are exact duplicates.
        auto batch = [&](const at::Tensor& u, const at::Tensor& k) { return layout.classifier_free_guidance ? at::cat({u, k}, 0) : k; };
        const at::Tensor reference_tokens = batch(uncond, cond);
        at::Tensor composition_tokens, unconditional_only_tokens;
        if (pair) composition_tokens = batch(uncond, composition_prompt_tokens(c));
        // ComfyUI's precise types: uncond = cond, cond = 0 (zero tokens give a zero attention output).
        if (layout.classifier_free_guidance) unconditional_only_tokens = at::cat({cond, at::zeros_like(cond)}, 0);

        // Image weights on the values: per image with concat, per reference for style and composition;
        // combined embeddings carry their weights already.
        const auto dtype = reference_tokens.scalar_type();
        const auto weight_of = [&](std::size_t i) { return c.image_weights.empty() ? 1.0 : c.image_weights[i]; };
        at::Tensor reference_weights, composition_weights;
        if (pair) {
            reference_weights = value_weights({weight_of(0)}, cond.size(1), dtype);
            composition_weights = value_weights({weight_of(1)}, composition_tokens.size(1), dtype);
        } else if (!combines_images(c)) {
            reference_weights = value_weights(c.image_weights, cond.size(1) / static_cast<std::int64_t>(c.images.size()), dtype);
        }

        check_regions(c);
        const auto images = static_cast<std::int64_t>(c.images.size());

        Prepared p;
        p.start = c.start;
        p.end = c.end;
        for (std::size_t l = 0; l < unet_layers.size(); ++l) {
            nn::ImagePromptAttention a;
            a.scale = c.layer_scales[l];
            const LayerTokens kind = layer_tokens[l];
            // Without guidance an unconditional-only layer has nothing to add.
            if (kind == LayerTokens::UnconditionalOnly && !layout.classifier_free_guidance) a.scale = 0.0;
            if (a.scale != 0.0) {
                const at::Tensor& tokens = kind == LayerTokens::Composition         ? composition_tokens
                                           : kind == LayerTokens::UnconditionalOnly ? unconditional_only_tokens
                                                                                    : reference_tokens;
                const at::Tensor& weights = kind == LayerTokens::Composition ? composition_weights : reference_weights;
                auto ip = c.adapter->layers[l];
                a.key = per_copy(unet_layers[l]->split_heads(ip->to_k_ip(tokens)));
                a.value = per_copy(unet_layers[l]->split_heads(ip->to_v_ip(tokens)));
                if (weights.defined()) a.value = a.value * weights;
            }
            std::vector<nn::ImagePromptAttention> per_layer;
            if (a.scale == 0.0) {
                per_layer.push_back(std::move(a));
            } else if (c.regions.empty()) {
                per_layer.push_back(scale_image_attention(std::move(a), c.embeds_scaling));
            } else {
                // Each image on its own softmax, in its own region (diffusers' masked IP attention).
                const std::int64_t tokens = a.key.size(2) / images;
                for (std::int64_t i = 0; i < images; ++i) {
                    nn::ImagePromptAttention one;
                    one.key = a.key.narrow(2, i * tokens, tokens);
                    one.value = a.value.narrow(2, i * tokens, tokens);
                    one.scale = a.scale;
                    one.region = c.regions[static_cast<std::size_t>(i)];
                    per_layer.push_back(scale_image_attention(std::move(one), c.embeds_scaling));
                }
            }
            p.layers.push_back(std::move(per_layer));
        }
        adapters_.push_back(std::move(p));
    }
}

const std::vector<std::vector<nn::ImagePromptAttention>>* PreparedImagePrompts::for_step(int step, int steps) {
    if (adapters_.empty()) return nullptr;
    const std::size_t layers = adapters_.front().layers.size();
    current_.assign(layers, {});
    bool any = false;
    for (const auto& a : adapters_) {
        if (!step_in_range(step, steps, a.start, a.end)) continue;
        for (std::size_t l = 0; l < layers; ++l)
            for (const auto& attention : a.layers[l])
                if (attention.scale != 0.0) current_[l].push_back(attention), any = true;
    }
    return any ? &current_ : nullptr;
}

}  // namespace ips::ipadapter
