#pragma once
// Convolutions whose weights oneDNN packs once. Eager LibTorch reorders a bfloat16 convolution's weights into
// the kernel's blocked layout on every call (0.65 s of a 2.7 s batch-1 SD1.5 UNet step on an AMX machine);
// here the packed copy is kept beside the module and made again only when the weights change.
#include <cstddef>

#include <torch/nn/modules/conv.h>

namespace ips::nn {

// conv(x). Packed when it helps: bfloat16 channels-last input, no autograd, zero padding, groups 1, and a CPU
// where oneDNN has a native bfloat16 kernel. Anything else, or IPS_PACKED_CONV=0, runs conv(x) itself. The
// packed path runs the kernel LibTorch would pick, so the result is the same to the bit (test_packed_conv).
at::Tensor conv2d(torch::nn::Conv2dImpl& conv, const at::Tensor& x);
inline at::Tensor conv2d(const torch::nn::Conv2d& conv, const at::Tensor& x) { return conv2d(*conv.ptr(), x); }

// Weights changed in place (a LoRA merged, reweighted or removed): every packed copy is made again at its
// next use. Replacing a weight's tensor (set_data) needs no call: the copy follows the weight's memory.
void packed_weights_changed();

// Whether conv2d packs on this machine (built with oneDNN, the CPU has the kernel, not turned off).
bool packed_conv_available();
// Tests and the bench compare both paths; the environment's IPS_PACKED_CONV=0 is the default off switch.
void set_packed_conv_enabled(bool enabled);
// Bytes the packed copies hold now; those of freed modules count until the next packing drops them.
std::size_t packed_conv_bytes();

}  // namespace ips::nn
