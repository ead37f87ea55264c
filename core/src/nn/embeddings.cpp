#include "nn/embeddings.h"

#include <cmath>

namespace ips::nn {

at::Tensor get_timestep_embedding(const at::Tensor& timesteps, std::int64_t dim, bool flip_sin_to_cos,
                                  double downscale_freq_shift, double scale, double max_period) {
    const std::int64_t half = dim / 2;
    at::Tensor exponent = at::arange(0, half, timesteps.options().dtype(at::kFloat)) * (-std::log(max_period));
    exponent = exponent / (static_cast<double>(half) - downscale_freq_shift);
    at::Tensor emb = timesteps.to(at::kFloat).unsqueeze(1) * at::exp(exponent).unsqueeze(0);
    emb = emb * scale;
    emb = at::cat({at::sin(emb), at::cos(emb)}, -1);
    if (flip_sin_to_cos) emb = at::cat({emb.narrow(1, half, half), emb.narrow(1, 0, half)}, -1);
    if (dim % 2 == 1) emb = at::constant_pad_nd(emb, {0, 1});
    return emb;
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(std::int64_t in_channels, std::int64_t time_embed_dim, std::int64_t cond_proj_dim) {
    linear_1 = register_module("linear_1", torch::nn::Linear(in_channels, time_embed_dim));
    linear_2 = register_module("linear_2", torch::nn::Linear(time_embed_dim, time_embed_dim));
    if (cond_proj_dim > 0)
        cond_proj = register_module("cond_proj", torch::nn::Linear(torch::nn::LinearOptions(cond_proj_dim, in_channels).bias(false)));
}

at::Tensor TimestepEmbeddingImpl::forward(const at::Tensor& sample, const at::Tensor& condition) {
    at::Tensor x = sample;
    if (condition.defined() && cond_proj) x = x + cond_proj(condition);
    return linear_2(at::silu(linear_1(x)));
}

at::Tensor get_guidance_scale_embedding(const at::Tensor& w, std::int64_t dim) {
    const std::int64_t half = dim / 2;
    const at::Tensor exponent = at::log(at::scalar_tensor(10000.0, at::kFloat)) / static_cast<double>(half - 1);
    const at::Tensor freqs = at::exp(at::arange(half, at::kFloat) * -exponent);
    const at::Tensor args = (w.to(at::kFloat) * 1000.0).unsqueeze(1) * freqs.unsqueeze(0);
    at::Tensor emb = at::cat({at::sin(args), at::cos(args)}, 1);
    if (dim % 2 == 1) emb = at::constant_pad_nd(emb, {0, 1});
    return emb;
}

}  // namespace ips::nn
