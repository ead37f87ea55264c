#pragma once
// Timestep embeddings of the UNet and ControlNet.
#include <torch/nn.h>

namespace ips::nn {

// Mirrors diffusers get_timestep_embedding: sinusoidal features of the timesteps [N] -> [N, dim].
at::Tensor get_timestep_embedding(const at::Tensor& timesteps, std::int64_t dim, bool flip_sin_to_cos,
                                  double downscale_freq_shift, double scale = 1.0, double max_period = 10000.0);

// Mirrors diffusers TimestepEmbedding: linear_1 -> SiLU -> linear_2.
struct TimestepEmbeddingImpl : torch::nn::Module {
    TimestepEmbeddingImpl(std::int64_t in_channels, std::int64_t time_embed_dim);
    at::Tensor forward(const at::Tensor& sample);
    torch::nn::Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(TimestepEmbedding);

}  // namespace ips::nn
