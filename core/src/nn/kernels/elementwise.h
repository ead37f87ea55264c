#pragma once
// bfloat16 element-wise work the UNet's transformer blocks repeat at every step, fused so each value is
// read and written once, with float32 arithmetic and a single rounding to bfloat16 at the end. LibTorch
// 1.13 runs the same operations as separate passes that convert to float and back (GEGLU alone: chunk,
// GELU, multiply). Torch-free: raw bfloat16 bits, rows on OpenMP threads.
#include <cstdint>

namespace ips::nn::kernels {

// GEGLU (diffusers' GEGLU after its projection): out[r][j] = a * gelu(b) with a = in[r][j] and
// b = in[r][inner + j], GELU the exact (erf) one. Rows are `in_stride` / `out_stride` values apart.
void geglu_bf16(const std::uint16_t* in, std::int64_t in_stride, std::int64_t rows, std::int64_t inner, std::uint16_t* out,
                std::int64_t out_stride);

// LayerNorm of each row of `width` contiguous values (biased variance, `eps`), then * weight + bias.
void layer_norm_bf16(const std::uint16_t* in, std::int64_t rows, std::int64_t width, const std::uint16_t* weight,
                     const std::uint16_t* bias, float eps, std::uint16_t* out);

// GroupNorm of channels-last activations [batch][pixels][channels]: `groups` groups of consecutive
// channels, statistics over each group's pixels and channels (biased variance, `eps`), then * weight +
// bias and, when `silu`, x * sigmoid(x) (the ResNet blocks' norm + SiLU in one pass).
void group_norm_nhwc_bf16(const std::uint16_t* in, std::int64_t batch, std::int64_t pixels, std::int64_t channels,
                          std::int64_t groups, const std::uint16_t* weight, const std::uint16_t* bias, float eps, bool silu,
                          std::uint16_t* out);

// out[i] = bf16(float(base[i]) + delta[i]) for n values: a LoRA merge's last pass, reading the kept bfloat16
// original and the float32 update once and rounding once. `out` may be `base`. On the calling thread only
// (the caller splits the work: see lora_model.cpp for why not OpenMP).
void add_f32_to_bf16(const std::uint16_t* base, const float* delta, std::int64_t n, std::uint16_t* out);

// GELU in float32 as geglu_bf16 computes it (for tests): 0.5 x (1 + erf(x / sqrt 2)), erfc to 1.2e-7 relative.
float gelu_reference(float x);

}  // namespace ips::nn::kernels
