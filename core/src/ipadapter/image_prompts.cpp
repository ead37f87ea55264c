#include "ipadapter/image_prompts.h"

#include <ATen/ATen.h>

#include "ips/errors.h"

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

}  // namespace

bool step_in_range(int step, int steps, double start, double end) {
    const double at = static_cast<double>(step) / steps;
    return at >= start && (at < end || end >= 1.0);
}

std::pair<at::Tensor, at::Tensor> image_prompt_tokens(AdapterConditioning& c) {
    auto& adapter = *c.adapter;
    if (c.images.empty()) throw InputError(adapter.file + ": an IP-Adapter needs at least one reference image");
    for (std::size_t i = 0; i < c.images.size(); ++i) check_embedding(adapter, c.images[i], "reference image " + std::to_string(i + 1));
    std::vector<at::Tensor> inputs;
    for (const auto& e : c.images) inputs.push_back(adapter_input(adapter, e));
    // All images through the projection as one batch, then their tokens side by side.
    const at::Tensor cond = adapter.project(at::cat(inputs, 0)).flatten(0, 1).unsqueeze(0);

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
    const at::Tensor uncond = one_negative.repeat({1, static_cast<std::int64_t>(c.images.size()), 1});
    return {uncond, cond};
}

PreparedImagePrompts::PreparedImagePrompts(nn::UNet2DConditionModelImpl& unet, std::vector<AdapterConditioning> adapters,
                                           const BatchLayout& layout) {
    c10::InferenceMode guard;
    auto unet_layers = unet.cross_attention_layers();
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
        const std::int64_t per_image = cond.size(1) / static_cast<std::int64_t>(c.images.size());

        // Projected once per branch, then repeated: the copies are exact duplicates.
        const at::Tensor tokens = layout.classifier_free_guidance ? at::cat({uncond, cond}, 0) : cond;
        auto per_copy = [&](const at::Tensor& t) { return layout.copies == 1 ? t : t.repeat_interleave(layout.copies, 0); };

        // Per-token value weights [1, 1, N, 1]; none when every weight is 1 (the reference's behaviour).
        at::Tensor value_weights;
        bool weighted = false;
        for (double w : c.image_weights) weighted = weighted || w != 1.0;
        if (weighted) {
            std::vector<float> per_token;
            for (double w : c.image_weights) per_token.insert(per_token.end(), per_image, static_cast<float>(w));
            value_weights = at::tensor(per_token).to(tokens.scalar_type()).view({1, 1, -1, 1});
        }

        Prepared p;
        p.start = c.start;
        p.end = c.end;
        for (std::size_t l = 0; l < unet_layers.size(); ++l) {
            nn::ImagePromptAttention a;
            a.scale = c.layer_scales[l];
            if (a.scale != 0.0) {
                auto ip = c.adapter->layers[l];
                a.key = per_copy(unet_layers[l]->split_heads(ip->to_k_ip(tokens)));
                a.value = per_copy(unet_layers[l]->split_heads(ip->to_v_ip(tokens)));
                if (value_weights.defined()) a.value = a.value * value_weights;
            }
            p.layers.push_back(std::move(a));
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
            if (a.layers[l].scale != 0.0) current_[l].push_back(a.layers[l]), any = true;
    }
    return any ? &current_ : nullptr;
}

}  // namespace ips::ipadapter
