#pragma once
// Floating-point operations of one forward pass, counted from the configs (multiply-add = 2 FLOP):
// convolutions, linear layers and attention products. Normalisations and activations are left out.
#include <cstdint>

#include "io/configs.h"

namespace ips::bench {

double unet_flops(const io::UNet2DConditionModelConfig& c, std::int64_t batch, std::int64_t latent_h, std::int64_t latent_w,
                  std::int64_t context_tokens);
double vae_decoder_flops(const io::AutoencoderKLConfig& c, std::int64_t batch, std::int64_t latent_h, std::int64_t latent_w);
double tiny_decoder_flops(const io::AutoencoderTinyConfig& c, std::int64_t batch, std::int64_t latent_h, std::int64_t latent_w);
double vae_encoder_flops(const io::AutoencoderKLConfig& c, std::int64_t batch, std::int64_t image_h, std::int64_t image_w);
double clip_encoder_flops(std::int64_t batch, std::int64_t tokens, std::int64_t hidden, std::int64_t intermediate,
                          std::int64_t layers);

}  // namespace ips::bench
