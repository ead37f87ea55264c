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

TimestepEmbeddingImpl::TimestepEmbeddingImpl(std::int64_t in_channels, std::int64_t time_embed_dim) {
    linear_1 = register_module("linear_1", torch::nn::Linear(in_channels, time_embed_dim));
    linear_2 = register_module("linear_2", torch::nn::Linear(time_embed_dim, time_embed_dim));
}

at::Tensor TimestepEmbeddingImpl::forward(const at::Tensor& sample) {
    return linear_2(at::silu(linear_1(sample)));
}

}  // namespace ips::nn
