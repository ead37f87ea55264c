#pragma once
// Mirrors diffusers UNet2DConditionModel for the SD1.x/SD2.x block types.
#include <string>
#include <vector>

#include <torch/nn.h>

#include "io/configs.h"
#include "nn/embeddings.h"
#include "nn/unet_blocks.h"

namespace ips::nn {

struct UNetInputs {
    at::Tensor sample;                 // [B, in_channels, H/8, W/8]
    at::Tensor timestep;               // scalar or [B]
    at::Tensor encoder_hidden_states;  // [B, 77, cross_attention_dim]
    std::vector<at::Tensor> down_block_additional_residuals;  // ControlNet, optional
    at::Tensor mid_block_additional_residual;                 // ControlNet, optional
    // Image-prompt attentions per cross-attention layer (in forward order: down, mid, up); optional.
    const std::vector<std::vector<ImagePromptAttention>>* image_prompts = nullptr;
    // encoder_hidden_states already projected by every cross-attention layer (precompute_text_key_values).
    const std::vector<KeyValue>* text_key_values = nullptr;
};

struct UNet2DConditionModelImpl : torch::nn::Module {
    explicit UNet2DConditionModelImpl(const io::UNet2DConditionModelConfig& config);
    at::Tensor forward(const UNetInputs& inputs);  // -> noise prediction [B, out_channels, h, w]

    // The cross-attention (attn2) modules in forward order: the layers IP-Adapter weights attach to.
    std::vector<Attention> cross_attention_layers() const;
    // Their diffusers names ("down_blocks.0.attentions.1.transformer_blocks.0.attn2"), same order.
    std::vector<std::string> cross_attention_layer_names() const;
    // The prompt's keys and values for every cross-attention layer, computed once per generation.
    std::vector<KeyValue> precompute_text_key_values(const at::Tensor& encoder_hidden_states);
    // Time embedding shared by UNet and ControlNet.
    at::Tensor time_embed(const at::Tensor& timestep, std::int64_t batch, at::ScalarType dtype);

    io::UNet2DConditionModelConfig config;
    torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
    TimestepEmbedding time_embedding{nullptr};
    torch::nn::ModuleList down_blocks{nullptr}, up_blocks{nullptr};
    UNetMidBlock2DCrossAttn mid_block{nullptr};
    torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(UNet2DConditionModel);

// Raises ModelLoadError naming `file` for configs this implementation does not cover (SDXL added
// embeddings, other block types, ...), before any module is built.
void check_supported(const io::UNet2DConditionModelConfig& config, const std::string& file);

// Heads per block: diffusers reads attention_head_dim as the head count when num_attention_heads is unset.
std::vector<std::int64_t> heads_per_block(const std::vector<int>& num_attention_heads, const std::vector<int>& attention_head_dim);

// Shared by UNet and ControlNet: the down path's and the mid block's options.
BlockOptions down_block_options(const io::UNet2DConditionModelConfig& config, std::size_t index, std::int64_t temb_channels);
BlockOptions mid_block_options(const io::UNet2DConditionModelConfig& config, std::int64_t temb_channels);

}  // namespace ips::nn
