#include "nn/upsample_conv.h"

#include <algorithm>
#include <atomic>

#include <ATen/ATen.h>

#include "nn/packed_conv.h"
#include "nn/weight_epoch.h"

namespace ips::nn {
namespace {

std::atomic<bool> g_enabled{true};

// Which of the 3 kernel taps along one axis land on each of the 2 input pixels a phase reads. Output pixel
// 2i reads upsampled pixels 2i-1, 2i, 2i+1 = input i-1, i, i; output 2i+1 reads 2i, 2i+1, 2i+2 = input i, i, i+1.
at::Tensor tap_sums(int parity) {
    at::Tensor r = at::zeros({2, 3}, at::kFloat);
    auto a = r.accessor<float, 2>();
    if (parity == 0) {
        a[0][0] = 1;
        a[1][1] = a[1][2] = 1;
    } else {
        a[0][0] = a[0][1] = 1;
        a[1][2] = 1;
    }
    return r;
}

}  // namespace

at::Tensor phase_kernels(const at::Tensor& kernel3x3) {
    const std::int64_t out = kernel3x3.size(0);
    at::Tensor phases = at::empty({4 * out, kernel3x3.size(1), 2, 2}, kernel3x3.options(), kernel3x3.suggest_memory_format());
    // A few output channels at a time: the float32 sums of a whole 1280-channel kernel would add about 0.3 GB
    // to the peak of the first step, when every model is in memory.
    constexpr std::int64_t kChunk = 64;
    for (std::int64_t o = 0; o < out; o += kChunk) {
        const std::int64_t end = std::min(out, o + kChunk);
        const at::Tensor k = kernel3x3.slice(0, o, end).to(at::kFloat);
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
                phases.slice(0, (2 * a + b) * out + o, (2 * a + b) * out + end)
                    .copy_(at::einsum("pr,oirs,qs->oipq", {tap_sums(a), k, tap_sums(b)}));
    }
    return phases;
}

void set_phase_upsampling_enabled(bool enabled) { g_enabled = enabled; }
bool phase_upsampling_enabled() { return g_enabled; }

bool PhaseUpsampling::applies(const torch::nn::Conv2dImpl& conv, const at::Tensor& x, at::IntArrayRef output_size) const {
    const auto& o = conv.options;
    const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
    return g_enabled && x.dim() == 4 && !at::GradMode::is_enabled() && x.scalar_type() == conv.weight.scalar_type() &&
           x.device() == conv.weight.device() && x.size(1) == conv.weight.size(1) &&
           (output_size.empty() || (output_size.size() == 2 && output_size[0] == 2 * x.size(2) && output_size[1] == 2 * x.size(3))) &&
           (*o.kernel_size())[0] == 3 && (*o.kernel_size())[1] == 3 && (*o.stride())[0] == 1 && (*o.stride())[1] == 1 && padding &&
           (**padding)[0] == 1 && (**padding)[1] == 1 && (*o.dilation())[0] == 1 && (*o.dilation())[1] == 1 && o.groups() == 1 &&
           c10::get_if<torch::enumtype::kZeros>(&o.padding_mode()) && (!conv.bias.defined() || conv.bias.scalar_type() == x.scalar_type());
}

torch::nn::Conv2dImpl& PhaseUpsampling::phases_for(torch::nn::Conv2dImpl& conv) {
    const at::Tensor& w = conv.weight;
    if (phases_ && weight_.matches(w) && bias_.matches(conv.bias)) return *phases_;
    // Made 1x1-channel and then given its real size and weights: the module's random initialisation of a
    // 4x-wide kernel (26M values for the UNet's 1280-channel one) would be thrown away.
    torch::nn::Conv2d phases(torch::nn::Conv2dOptions(1, 1, 2).padding(1).bias(conv.bias.defined()));
    phases->options.in_channels(w.size(1)).out_channels(4 * w.size(0));
    {
        torch::NoGradGuard no_grad;
        phases->weight.set_data(phase_kernels(w));
        if (conv.bias.defined()) phases->bias.set_data(conv.bias.repeat({4}));
    }
    phases_ = phases;
    weight_ = WeightStamp(w);
    bias_ = WeightStamp(conv.bias);
    return *phases_;
}

at::Tensor PhaseUpsampling::forward(torch::nn::Conv2dImpl& conv, const at::Tensor& x, at::IntArrayRef output_size) {
    if (!applies(conv, x, output_size)) {
        const at::Tensor up = output_size.empty() ? at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2})
                                                  : at::upsample_nearest2d(x, output_size);
        return conv2d(conv, up);
    }
    at::Tensor z;  // [N, 4O, H+1, W+1]: phase (a, b) of output pixel (2i+a, 2j+b) sits at (i+a, j+b)
    {
        std::lock_guard lock(mutex_);
        z = conv2d(phases_for(conv), x);
    }
    const std::int64_t n = x.size(0), h = x.size(2), w = x.size(3), out = conv.weight.size(0);
    const bool channels_last = z.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
    if (channels_last) {
        at::Tensor y = at::empty({n, h, 2, w, 2, out}, x.options());
        const at::Tensor zn = z.permute({0, 2, 3, 1});
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
                y.select(2, a).select(3, b).copy_(zn.slice(1, a, a + h).slice(2, b, b + w).slice(3, (2 * a + b) * out, (2 * a + b + 1) * out));
        return y.view({n, 2 * h, 2 * w, out}).permute({0, 3, 1, 2});
    }
    at::Tensor y = at::empty({n, out, h, 2, w, 2}, x.options());
    const at::Tensor zp = z.contiguous().view({n, 4, out, h + 1, w + 1});
    for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) y.select(3, a).select(4, b).copy_(zp.select(1, 2 * a + b).slice(2, a, a + h).slice(3, b, b + w));
    return y.view({n, out, 2 * h, 2 * w});
}

}  // namespace ips::nn
