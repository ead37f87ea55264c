#pragma once
// Mirrors diffusers AutoencoderTiny's decoder (DecoderTiny, madebyollin's TAESD): about 1.2 M parameters
// of 3x3 convolutions that turn the UNet's latents into a picture, for live previews — a twentieth of
// the full VAE decoder's work, close enough to show where the image is going.
#include <torch/nn.h>

#include "io/configs.h"

namespace ips::nn {

// Mirrors AutoencoderTinyBlock: relu(conv(relu(conv(relu(conv(x))))) + skip(x)).
struct TinyBlockImpl : torch::nn::Module {
    TinyBlockImpl(std::int64_t in_channels, std::int64_t out_channels);
    at::Tensor forward(const at::Tensor& x);
    torch::nn::Sequential conv{nullptr};  // conv.0, conv.2, conv.4 (ReLUs between)
    torch::nn::Conv2d skip{nullptr};      // 1x1, only where the channel count changes
};
TORCH_MODULE(TinyBlock);

// Mirrors DecoderTiny: `layers` numbered as diffusers numbers them (conv, relu, blocks, upsample, conv, ...).
struct TinyDecoderImpl : torch::nn::Module {
    explicit TinyDecoderImpl(const io::AutoencoderTinyConfig& config);
    // The UNet's latents as they are (AutoencoderTiny's scaling factor is 1) -> [B, 3, 8h, 8w] in ~[-1, 1].
    at::Tensor forward(const at::Tensor& latents);
    io::AutoencoderTinyConfig config;
    torch::nn::Sequential layers{nullptr};
};
TORCH_MODULE(TinyDecoder);

}  // namespace ips::nn
