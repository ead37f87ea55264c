#pragma once
// Mirrors diffusers' resnet.py building blocks: ResnetBlock2D, Downsample2D, Upsample2D.
#include <optional>

#include <torch/nn.h>

#include "nn/upsample_conv.h"

namespace ips::nn {

struct ResnetBlock2DOptions {
    std::int64_t in_channels = 0;
    std::int64_t out_channels = 0;
    std::optional<std::int64_t> temb_channels;  // none in the VAE
    std::int64_t groups = 32;
    double eps = 1e-6;
    double output_scale_factor = 1.0;
};

// GroupNorm, then SiLU when `silu` (as ResNet blocks and output heads follow it), for [B, C, ...] in any
// layout. bfloat16 activations whose channels are the innermost dimension (channels-last, or the VAE
// attention's [B, C, N] view of [B, N, C]) take the fused kernel. LibTorch 1.13's own bfloat16
// channels-last GroupNorm is wrong over many pixels (measured: error 5.6 on unit-variance data at 64x64,
// where float32 is within 1e-5), so with the fused kernels switched off those are normalised in float32.
at::Tensor apply_group_norm(torch::nn::GroupNorm& norm, const at::Tensor& x, bool silu);

// Mirrors diffusers ResnetBlock2D (time_embedding_norm "default", SiLU).
struct ResnetBlock2DImpl : torch::nn::Module {
    explicit ResnetBlock2DImpl(const ResnetBlock2DOptions& options);
    // input_tensor [B, Cin, H, W], temb [B, T] or undefined -> [B, Cout, H, W]
    at::Tensor forward(const at::Tensor& input_tensor, const at::Tensor& temb = {});

    torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv_shortcut{nullptr};
    torch::nn::Linear time_emb_proj{nullptr};
    double output_scale_factor = 1.0;
};
TORCH_MODULE(ResnetBlock2D);

// Mirrors diffusers Downsample2D with use_conv=True: padding 1 (UNet), or padding 0 with an explicit
// (0, 1, 0, 1) pad first (the VAE encoder).
struct Downsample2DImpl : torch::nn::Module {
    Downsample2DImpl(std::int64_t channels, std::int64_t out_channels, std::int64_t padding);
    at::Tensor forward(const at::Tensor& hidden_states);
    torch::nn::Conv2d conv{nullptr};
    std::int64_t padding = 1;
};
TORCH_MODULE(Downsample2D);

// Mirrors diffusers Upsample2D with use_conv=True: nearest 2x (or to the skip connection's size) then 3x3 conv.
struct Upsample2DImpl : torch::nn::Module {
    Upsample2DImpl(std::int64_t channels, std::int64_t out_channels);
    at::Tensor forward(const at::Tensor& hidden_states, at::IntArrayRef output_size = {});
    torch::nn::Conv2d conv{nullptr};
    PhaseUpsampling phases;  // computes the two without the upsampled picture (nn/upsample_conv.h)
};
TORCH_MODULE(Upsample2D);

}  // namespace ips::nn
