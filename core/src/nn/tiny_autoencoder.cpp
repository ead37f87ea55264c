#include "nn/tiny_autoencoder.h"

namespace ips::nn {
namespace {

torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, bool bias = true) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(bias));
}

}  // namespace

TinyBlockImpl::TinyBlockImpl(std::int64_t in_channels, std::int64_t out_channels) {
    conv = register_module("conv", torch::nn::Sequential(conv3x3(in_channels, out_channels), torch::nn::ReLU(),
                                                         conv3x3(out_channels, out_channels), torch::nn::ReLU(),
                                                         conv3x3(out_channels, out_channels)));
    if (in_channels != out_channels)
        skip = register_module("skip", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, 1).bias(false)));
}

at::Tensor TinyBlockImpl::forward(const at::Tensor& x) {
    return at::relu(conv->forward(x) + (skip ? skip->forward(x) : x));
}

TinyDecoderImpl::TinyDecoderImpl(const io::AutoencoderTinyConfig& c) : config(c) {
    layers = torch::nn::Sequential();
    layers->push_back(conv3x3(c.latent_channels, c.decoder_block_out_channels[0]));
    layers->push_back(torch::nn::ReLU());
    const std::size_t stages = c.num_decoder_blocks.size();
    for (std::size_t i = 0; i < stages; ++i) {
        const bool last = i + 1 == stages;
        const std::int64_t channels = c.decoder_block_out_channels[i];
        for (int b = 0; b < c.num_decoder_blocks[i]; ++b) layers->push_back(TinyBlock(channels, channels));
        if (!last) {
            const double f = c.upsampling_scaling_factor;
            layers->push_back(torch::nn::Upsample(
                torch::nn::UpsampleOptions().scale_factor(std::vector<double>{f, f}).mode(torch::kNearest)));
        }
        // Between stages the channel count stays that of the stage (diffusers' DecoderTiny does the same).
        layers->push_back(conv3x3(channels, last ? c.out_channels : channels, /*bias=*/last));
    }
    register_module("layers", layers);
}

at::Tensor TinyDecoderImpl::forward(const at::Tensor& latents) {
    // tanh(x / 3) * 3: TAESD's soft clamp of the latents.
    const at::Tensor x = at::tanh(latents / 3) * 3;
    return layers->forward(x).mul(2).sub(1);
}

}  // namespace ips::nn
