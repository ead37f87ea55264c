#pragma once
// Mirrors diffusers AutoencoderKL with its Encoder / Decoder (vae.py), DownEncoderBlock2D,
// UpDecoderBlock2D and UNetMidBlock2D.
#include <optional>

#include <torch/nn.h>

#include "io/configs.h"
#include "nn/attention_module.h"
#include "nn/resnet.h"

namespace ips::nn {

// Mirrors diffusers UNetMidBlock2D without time embedding: resnet, attention, resnet.
struct UNetMidBlock2DImpl : torch::nn::Module {
    UNetMidBlock2DImpl(std::int64_t channels, std::int64_t groups, double eps, bool add_attention);
    at::Tensor forward(at::Tensor hidden_states);
    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr};
};
TORCH_MODULE(UNetMidBlock2D);

// Mirrors DownEncoderBlock2D and UpDecoderBlock2D (resnets, then an optional resampler).
struct VaeBlockImpl : torch::nn::Module {
    VaeBlockImpl(bool up, std::int64_t in_channels, std::int64_t out_channels, std::int64_t num_layers,
                 std::int64_t groups, bool add_resampler);
    at::Tensor forward(at::Tensor hidden_states);
    torch::nn::ModuleList resnets{nullptr}, downsamplers{nullptr}, upsamplers{nullptr};
};
TORCH_MODULE(VaeBlock);

struct EncoderImpl : torch::nn::Module {
    explicit EncoderImpl(const io::AutoencoderKLConfig& config);
    at::Tensor forward(const at::Tensor& sample);  // [B, 3, H, W] -> [B, 2*latent, H/8, W/8]
    torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
    torch::nn::ModuleList down_blocks{nullptr};
    UNetMidBlock2D mid_block{nullptr};
    torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(Encoder);

struct DecoderImpl : torch::nn::Module {
    explicit DecoderImpl(const io::AutoencoderKLConfig& config);
    at::Tensor forward(const at::Tensor& z);  // [B, latent, h, w] -> [B, 3, 8h, 8w]
    torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
    torch::nn::ModuleList up_blocks{nullptr};
    UNetMidBlock2D mid_block{nullptr};
    torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(Decoder);

// Mirrors diffusers DiagonalGaussianDistribution.
struct LatentDistribution {
    at::Tensor mean, logvar, std;  // logvar clamped to [-30, 20]
    // mean + std * noise, noise drawn with `generator` in the latents' shape (diffusers' order).
    at::Tensor sample(c10::optional<at::Generator> generator) const;
};

struct AutoencoderKLImpl : torch::nn::Module {
    explicit AutoencoderKLImpl(const io::AutoencoderKLConfig& config);
    LatentDistribution encode(const at::Tensor& sample);  // sample in [-1, 1]
    at::Tensor decode(const at::Tensor& z);               // unscaled latents -> sample in ~[-1, 1]

    io::AutoencoderKLConfig config;
    Encoder encoder{nullptr};
    Decoder decoder{nullptr};
    torch::nn::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};
};
TORCH_MODULE(AutoencoderKL);

void check_supported(const io::AutoencoderKLConfig& config, const std::string& file);

}  // namespace ips::nn
