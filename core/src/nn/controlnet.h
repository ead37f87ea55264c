#pragma once
// Mirrors diffusers ControlNetModel: a copy of the UNet's down path and mid block whose outputs, through
// zero-initialised 1x1 convolutions, become residuals added to the UNet's skip connections.
#include <cstdint>
#include <vector>

#include <torch/nn.h>

#include "io/configs.h"
#include "nn/embeddings.h"
#include "nn/unet_blocks.h"

namespace ips::nn {

struct ControlNetOutput {
    std::vector<at::Tensor> down_block_res_samples;  // one per UNet skip connection
    at::Tensor mid_block_res_sample;
};

// Mirrors diffusers ControlNetConditioningEmbedding: control image [B, 3, H, W] -> [B, C0, H/8, W/8].
struct ControlNetConditioningEmbeddingImpl : torch::nn::Module {
    ControlNetConditioningEmbeddingImpl(std::int64_t embedding_channels, std::int64_t conditioning_channels,
                                        const std::vector<int>& block_out_channels);
    at::Tensor forward(const at::Tensor& conditioning);
    torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
    torch::nn::ModuleList blocks{nullptr};
};
TORCH_MODULE(ControlNetConditioningEmbedding);

struct ControlNetModelImpl : torch::nn::Module {
    explicit ControlNetModelImpl(const io::ControlNetModelConfig& config);
    // controlnet_cond: the control image in [0, 1], [B, conditioning_channels, 8h, 8w]. With `residual_limit`, only
    // the first that many down residuals are computed and no mid residual (what a DeepCache shallow step uses).
    ControlNetOutput forward(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& encoder_hidden_states,
                             const at::Tensor& controlnet_cond, double conditioning_scale = 1.0,
                             std::size_t residual_limit = SIZE_MAX);

    io::ControlNetModelConfig config;
    io::UNet2DConditionModelConfig unet_config;  // the shared part, as a UNet config
    torch::nn::Conv2d conv_in{nullptr};
    TimestepEmbedding time_embedding{nullptr};
    ControlNetConditioningEmbedding controlnet_cond_embedding{nullptr};
    torch::nn::ModuleList down_blocks{nullptr}, controlnet_down_blocks{nullptr};
    UNetMidBlock2DCrossAttn mid_block{nullptr};
    torch::nn::Conv2d controlnet_mid_block{nullptr};
};
TORCH_MODULE(ControlNetModel);

void check_supported(const io::ControlNetModelConfig& config, const std::string& file);

}  // namespace ips::nn
