#pragma once
// Convolutions whose weights oneDNN packs once. Eager LibTorch reorders a bfloat16 convolution's weights into
// the kernel's blocked layout on every call (0.65 s of a 2.7 s batch-1 SD1.5 UNet step on an AMX machine);
// here the packed copy is kept beside the module and made again only when the weights change.
#include <cstddef>

#include <torch/nn/modules/conv.h>

namespace ips::nn {

// conv(x). Packed when turned on (IPS_PACKED_CONV=1, or set_packed_conv_enabled) for bfloat16 channels-last
// input, no autograd, zero padding, groups 1, on a CPU where oneDNN has a native bfloat16 kernel; anything
// else runs conv(x) itself. The packed path runs the kernel LibTorch would pick, so the result is the same to
// the bit (test_packed_conv).
//
// Off by default: measured on a 2-core AMX machine it removed the reorders (about 0.16 s of a 2.4 s batch-1
// SD1.5 UNet forward in a oneDNN trace) but whole LCM generations ran within ±6 % of LibTorch's own path,
// while the packed copies took about 1 GB more memory (docs/performance.md). Live mode turns it on while it
// runs (ips/weight_packing.h): at its 384 px batch-1 frames the reorders are a larger share of a step.
at::Tensor conv2d(torch::nn::Conv2dImpl& conv, const at::Tensor& x);
inline at::Tensor conv2d(const torch::nn::Conv2d& conv, const at::Tensor& x) { return conv2d(*conv.ptr(), x); }

// Whether conv2d packs now (built with oneDNN, the CPU has the kernel, turned on).
bool packed_conv_available();
// On or off for the whole process (tests and the bench compare both paths); on only where the CPU has the
// kernel. packed_conv_default() is what a process starts with: IPS_PACKED_CONV=1 turns it on.
void set_packed_conv_enabled(bool enabled);
bool packed_conv_default();
// Bytes the packed copies hold now; those of freed modules count until the next packing drops them.
std::size_t packed_conv_bytes();
// Frees every packed copy (they are made again at their next use while packing is on).
void release_packed_weights();

}  // namespace ips::nn
