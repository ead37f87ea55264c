#pragma once
// Mirrors diffusers unet_2d_blocks.py for SD1.x/SD2.x: CrossAttnDownBlock2D / DownBlock2D,
// UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D / UpBlock2D. A "CrossAttn" block is its plain twin with
// one Transformer2DModel after each resnet, so each pair is one class here with the same attribute names.
#include <cstdint>
#include <vector>

#include <torch/nn.h>

#include "nn/resnet.h"
#include "nn/transformer_2d.h"

namespace ips::nn {

struct BlockOptions {
    std::int64_t in_channels = 0;
    std::int64_t out_channels = 0;
    std::int64_t prev_output_channel = 0;  // up blocks
    std::int64_t temb_channels = 0;
    std::int64_t num_layers = 2;
    std::int64_t transformer_layers = 1;
    std::int64_t resnet_groups = 32;
    double resnet_eps = 1e-5;
    bool has_attention = true;
    std::int64_t num_attention_heads = 8;
    std::int64_t cross_attention_dim = 768;
    bool use_linear_projection = false;
    bool add_sample_resampler = true;  // downsampler / upsampler
    std::int64_t downsample_padding = 1;
};

// Mirrors CrossAttnDownBlock2D (has_attention) and DownBlock2D.
struct UNetDownBlockImpl : torch::nn::Module {
    explicit UNetDownBlockImpl(const BlockOptions& options);
    // Appends each output state (after every layer and after the downsampler) to `output_states`, stopping
    // before the layer that would make it longer than `limit` (DeepCache's shallow branch needs only a prefix).
    at::Tensor forward(at::Tensor hidden_states, const at::Tensor& temb, const CrossAttentionContext& context,
                       std::vector<at::Tensor>& output_states, std::size_t limit = SIZE_MAX);
    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr}, downsamplers{nullptr};
};
TORCH_MODULE(UNetDownBlock);

// Mirrors UNetMidBlock2DCrossAttn.
struct UNetMidBlock2DCrossAttnImpl : torch::nn::Module {
    explicit UNetMidBlock2DCrossAttnImpl(const BlockOptions& options);
    at::Tensor forward(at::Tensor hidden_states, const at::Tensor& temb, const CrossAttentionContext& context);
    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr};
};
TORCH_MODULE(UNetMidBlock2DCrossAttn);

// Mirrors CrossAttnUpBlock2D (has_attention) and UpBlock2D.
struct UNetUpBlockImpl : torch::nn::Module {
    explicit UNetUpBlockImpl(const BlockOptions& options);
    // Runs layers [first_layer, end) and the upsampler, consuming one entry from the back of `skips` (the down
    // path's outputs) per layer. With `entering`, stores the hidden state entering layer `entering->layer` (the
    // deep features DeepCache keeps).
    struct Capture {
        std::size_t layer = 0;
        at::Tensor* hidden = nullptr;
    };
    at::Tensor forward(at::Tensor hidden_states, std::vector<at::Tensor>& skips, const at::Tensor& temb,
                       const CrossAttentionContext& context, at::IntArrayRef upsample_size, std::size_t first_layer = 0,
                       const Capture* entering = nullptr);
    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr}, upsamplers{nullptr};
};
TORCH_MODULE(UNetUpBlock);

Transformer2DModel make_transformer(const BlockOptions& o, std::int64_t channels);

}  // namespace ips::nn
