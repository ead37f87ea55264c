#include "nn/clip_encoder.h"

#include <cmath>

#include "ips/errors.h"
#include "nn/attention.h"

namespace ips::nn {

at::Tensor clip_activation(const std::string& name, const at::Tensor& x) {
    if (name == "quick_gelu") return x * at::sigmoid(1.702 * x);
    if (name == "gelu") return at::gelu(x);
    if (name == "gelu_new" || name == "gelu_pytorch_tanh") return at::gelu(x, "tanh");
    throw ModelLoadError("unsupported CLIP hidden_act '" + name + "' (expected quick_gelu or gelu)");
}

CLIPAttentionImpl::CLIPAttentionImpl(const ClipEncoderOptions& o)
    : heads(o.num_attention_heads), head_dim(o.hidden_size / o.num_attention_heads) {
    scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
    k_proj = register_module("k_proj", torch::nn::Linear(o.hidden_size, o.hidden_size));
    v_proj = register_module("v_proj", torch::nn::Linear(o.hidden_size, o.hidden_size));
    q_proj = register_module("q_proj", torch::nn::Linear(o.hidden_size, o.hidden_size));
    out_proj = register_module("out_proj", torch::nn::Linear(o.hidden_size, o.hidden_size));
}

at::Tensor CLIPAttentionImpl::forward(const at::Tensor& h, const at::Tensor& causal_mask) {
    const auto b = h.size(0), n = h.size(1);
    auto split = [&](const at::Tensor& x) { return x.view({b, n, heads, head_dim}).transpose(1, 2); };
    // transformers scales the query before the product (eager attention).
    const at::Tensor q = split(q_proj(h) * scale);
    at::Tensor out = scaled_dot_product_attention(q, split(k_proj(h)), split(v_proj(h)), 1.0, causal_mask);
    out = out.transpose(1, 2).reshape({b, n, heads * head_dim});
    return out_proj(out);
}

CLIPMLPImpl::CLIPMLPImpl(const ClipEncoderOptions& o) : act(o.hidden_act) {
    fc1 = register_module("fc1", torch::nn::Linear(o.hidden_size, o.intermediate_size));
    fc2 = register_module("fc2", torch::nn::Linear(o.intermediate_size, o.hidden_size));
    clip_activation(act, at::zeros({1}));  // refuse unknown activations at construction
}

at::Tensor CLIPMLPImpl::forward(const at::Tensor& h) { return fc2(clip_activation(act, fc1(h))); }

CLIPEncoderLayerImpl::CLIPEncoderLayerImpl(const ClipEncoderOptions& o) {
    auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.hidden_size}).eps(o.layer_norm_eps)); };
    self_attn = register_module("self_attn", CLIPAttention(o));
    layer_norm1 = register_module("layer_norm1", ln());
    mlp = register_module("mlp", CLIPMLP(o));
    layer_norm2 = register_module("layer_norm2", ln());
}

at::Tensor CLIPEncoderLayerImpl::forward(const at::Tensor& h, const at::Tensor& causal_mask) {
    const at::Tensor x = h + self_attn(layer_norm1(h), causal_mask);
    return x + mlp(layer_norm2(x));
}

CLIPEncoderImpl::CLIPEncoderImpl(const ClipEncoderOptions& o) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < o.num_hidden_layers; ++i) layers->push_back(CLIPEncoderLayer(o));
}

std::vector<at::Tensor> CLIPEncoderImpl::forward(const at::Tensor& inputs_embeds, const at::Tensor& causal_mask,
                                                 std::int64_t stop_after) {
    std::vector<at::Tensor> states{inputs_embeds};
    const auto n = static_cast<std::int64_t>(layers->size());
    const auto run = stop_after < 0 ? n : std::min(stop_after, n);
    for (std::int64_t i = 0; i < run; ++i) states.push_back(layers[i]->as<CLIPEncoderLayer>()->forward(states.back(), causal_mask));
    return states;
}

}  // namespace ips::nn
