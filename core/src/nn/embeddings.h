#pragma once
// Timestep embeddings of the UNet and ControlNet.
#include <torch/nn.h>

namespace ips::nn {

// Mirrors diffusers get_timestep_embedding: sinusoidal features of the timesteps [N] -> [N, dim].
at::Tensor get_timestep_embedding(const at::Tensor& timesteps, std::int64_t dim, bool flip_sin_to_cos,
                                  double downscale_freq_shift, double scale = 1.0, double max_period = 10000.0);

// Mirrors diffusers TimestepEmbedding: linear_1 -> SiLU -> linear_2. With `cond_proj_dim` (Latent Consistency
// Model UNets' time_cond_proj_dim), a condition [N, cond_proj_dim] is projected and added to the input first.
struct TimestepEmbeddingImpl : torch::nn::Module {
    TimestepEmbeddingImpl(std::int64_t in_channels, std::int64_t time_embed_dim, std::int64_t cond_proj_dim = 0);
    at::Tensor forward(const at::Tensor& sample, const at::Tensor& condition = {});
    torch::nn::Linear linear_1{nullptr}, linear_2{nullptr}, cond_proj{nullptr};
};

// Mirrors diffusers' get_guidance_scale_embedding (LatentConsistencyModelPipeline): sinusoidal features of
// w * 1000 for the guidance values `w` [N] -> [N, dim] in float32. Kept apart from get_timestep_embedding (the same
// formula with a shift of 1) because it computes the frequencies in diffusers' other order: at w * 1000 a last-bit
// difference in a frequency is a visible difference in the sine.
at::Tensor get_guidance_scale_embedding(const at::Tensor& w, std::int64_t dim);
TORCH_MODULE(TimestepEmbedding);

}  // namespace ips::nn
