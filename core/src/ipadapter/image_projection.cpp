#include "ipadapter/image_projection.h"

#include <cmath>

namespace ips::ipadapter {
namespace {

torch::nn::LayerNorm layer_norm(std::int64_t dim) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5)); }
torch::nn::Linear linear(std::int64_t in, std::int64_t out, bool bias = true) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

}  // namespace

ImageProjModelImpl::ImageProjModelImpl(std::int64_t embeddings_dim, std::int64_t cross_dim, std::int64_t n)
    : tokens(n), cross_attention_dim(cross_dim) {
    proj = register_module("proj", linear(embeddings_dim, n * cross_dim));
    norm = register_module("norm", layer_norm(cross_dim));
}

at::Tensor ImageProjModelImpl::forward(const at::Tensor& image_embeds) {
    return norm(proj(image_embeds).reshape({-1, tokens, cross_attention_dim}));
}

PerceiverAttentionImpl::PerceiverAttentionImpl(std::int64_t dim, std::int64_t head_dim, std::int64_t n_heads)
    : dim_head(head_dim), heads(n_heads) {
    const std::int64_t inner = head_dim * n_heads;
    norm1 = register_module("norm1", layer_norm(dim));
    norm2 = register_module("norm2", layer_norm(dim));
    to_q = register_module("to_q", linear(dim, inner, false));
    to_kv = register_module("to_kv", linear(dim, inner * 2, false));
    to_out = register_module("to_out", linear(inner, dim, false));
}

at::Tensor PerceiverAttentionImpl::forward(const at::Tensor& x_in, const at::Tensor& latents_in) {
    const at::Tensor x = norm1(x_in);
    const at::Tensor latents = norm2(latents_in);
    const auto b = latents.size(0), l = latents.size(1);
    auto split = [&](const at::Tensor& t) { return t.view({t.size(0), t.size(1), heads, -1}).transpose(1, 2); };
    const at::Tensor q = split(to_q(latents));
    const auto kv = to_kv(at::cat({x, latents}, -2)).chunk(2, -1);
    const at::Tensor k = split(kv[0]), v = split(kv[1]);
    // The reference scales q and k by d^-1/4 each (steadier in half precision than dividing afterwards).
    const double scale = 1.0 / std::sqrt(std::sqrt(static_cast<double>(dim_head)));
    at::Tensor weight = at::matmul(q * scale, (k * scale).transpose(-2, -1));
    weight = at::softmax(weight.to(at::kFloat), -1).to(weight.scalar_type());
    const at::Tensor out = at::matmul(weight, v).permute({0, 2, 1, 3}).reshape({b, l, -1});
    return to_out(out);
}

ResamplerImpl::ResamplerImpl(const ResamplerOptions& o) {
    latents = register_parameter("latents", at::zeros({1, o.num_queries, o.dim}), false);
    proj_in = register_module("proj_in", linear(o.embedding_dim, o.dim));
    proj_out = register_module("proj_out", linear(o.dim, o.output_dim));
    norm_out = register_module("norm_out", layer_norm(o.output_dim));
    layers = register_module("layers", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < o.depth; ++i) {
        torch::nn::ModuleList layer;
        layer->push_back(PerceiverAttention(o.dim, o.dim_head, o.heads));
        layer->push_back(torch::nn::Sequential(layer_norm(o.dim), linear(o.dim, o.dim * o.ff_mult, false),
                                               torch::nn::GELU(), linear(o.dim * o.ff_mult, o.dim, false)));
        layers->push_back(layer);
    }
}

at::Tensor ResamplerImpl::forward(const at::Tensor& hidden_states) {
    at::Tensor lat = latents.repeat({hidden_states.size(0), 1, 1});
    const at::Tensor x = proj_in(hidden_states);
    for (const auto& layer : *layers) {
        auto& pair = *layer->as<torch::nn::ModuleList>();
        lat = pair[0]->as<PerceiverAttention>()->forward(x, lat) + lat;
        lat = pair[1]->as<torch::nn::Sequential>()->forward(lat) + lat;
    }
    return norm_out(proj_out(lat));
}

MLPProjModelImpl::MLPProjModelImpl(std::int64_t embeddings_dim, std::int64_t cross_dim) {
    proj = register_module("proj", torch::nn::Sequential(linear(embeddings_dim, embeddings_dim), torch::nn::GELU(),
                                                         linear(embeddings_dim, cross_dim), layer_norm(cross_dim)));
}

at::Tensor MLPProjModelImpl::forward(const at::Tensor& hidden_states) { return proj->forward(hidden_states); }

}  // namespace ips::ipadapter
