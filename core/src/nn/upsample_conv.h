#pragma once
// Nearest 2x upsampling followed by a 3x3 convolution (padding 1), as diffusers' Upsample2D runs it, computed
// without making the upsampled picture. Each output pixel's parity (row, column) is one of four phases, and
// each phase sees only a 2x2 window of the input: the 3x3 kernel's taps that fall on the same input pixel are
// summed into one. So one 2x2 convolution with four times the output channels over the input (padded by one),
// then the phases interleaved, gives the same picture with 4/9 of the multiply-adds and no 4x-size
// intermediate. The SD1.5 VAE decoder's three upsampling convolutions (695 of its ~2400 GFLOP at 512x512)
// and the UNet's three (68 of ~800) take this path.
#include <cstdint>
#include <mutex>

#include <torch/nn/modules/conv.h>

#include "nn/weight_epoch.h"

namespace ips::nn {

// The four phases' 2x2 kernels of a [O, I, 3, 3] kernel: [4O, I, 2, 2], phase (row parity a, column parity b)
// at output channels (2a + b) * O ..., summed in float32 and returned in the kernel's dtype and layout.
at::Tensor phase_kernels(const at::Tensor& kernel3x3);

// On by default; off runs the upsampling and the 3x3 convolution as written (the bench compares both).
void set_phase_upsampling_enabled(bool enabled);
bool phase_upsampling_enabled();

// What one Upsample2D keeps: its convolution's phase kernels, made at first use and again once the
// convolution's weights are replaced or changed in place (nn/weight_epoch.h).
class PhaseUpsampling {
public:
    // conv(nearest_upsample(x, output_size)); output_size empty means twice x's size. The phase path runs
    // for a 2x size, a 3x3 stride-1 convolution padded by 1 and no autograd; anything else runs as written.
    at::Tensor forward(torch::nn::Conv2dImpl& conv, const at::Tensor& x, at::IntArrayRef output_size = {});

private:
    bool applies(const torch::nn::Conv2dImpl& conv, const at::Tensor& x, at::IntArrayRef output_size) const;
    torch::nn::Conv2dImpl& phases_for(torch::nn::Conv2dImpl& conv);

    std::mutex mutex_;
    torch::nn::Conv2d phases_{nullptr};
    WeightStamp weight_, bias_;  // what the phase kernels were made from
};

}  // namespace ips::nn
