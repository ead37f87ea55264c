#include "nn/resnet.h"

#include "nn/attention.h"
#include "nn/kernels/elementwise.h"
#include "nn/packed_conv.h"

namespace ips::nn {

at::Tensor apply_group_norm(torch::nn::GroupNorm& norm, const at::Tensor& x, bool silu) {
    const auto& o = norm->options;
    const bool bf16 = x.scalar_type() == at::kBFloat16 && x.device().is_cpu() && x.dim() >= 3;
    const bool channels_innermost = bf16 && x.movedim(1, -1).is_contiguous();
    if (channels_innermost && fused_elementwise_enabled() && o.affine() && norm->weight.scalar_type() == at::kBFloat16 &&
        norm->bias.scalar_type() == at::kBFloat16 && norm->weight.is_contiguous() && norm->bias.is_contiguous()) {
        at::Tensor out = at::empty_like(x);  // same strides as x
        const std::int64_t batch = x.size(0), channels = x.size(1);
        kernels::group_norm_nhwc_bf16(static_cast<const std::uint16_t*>(x.data_ptr()), batch, x.numel() / (batch * channels), channels,
                                      o.num_groups(), static_cast<const std::uint16_t*>(norm->weight.data_ptr()),
                                      static_cast<const std::uint16_t*>(norm->bias.data_ptr()), static_cast<float>(o.eps()), silu,
                                      static_cast<std::uint16_t*>(out.data_ptr()));
        return out;
    }
    at::Tensor y;
    if (channels_innermost && !x.is_contiguous()) {
        const auto weight = o.affine() ? norm->weight.to(at::kFloat) : at::Tensor();
        const auto bias = o.affine() ? norm->bias.to(at::kFloat) : at::Tensor();
        y = at::group_norm(x.to(at::kFloat), o.num_groups(), weight, bias, o.eps()).to(at::kBFloat16);
    } else {
        y = norm(x);
    }
    return silu ? at::silu(y) : y;
}

namespace {
torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}
}  // namespace

ResnetBlock2DImpl::ResnetBlock2DImpl(const ResnetBlock2DOptions& o) : output_scale_factor(o.output_scale_factor) {
    norm1 = register_module("norm1", torch::nn::GroupNorm(torch::nn::GroupNormOptions(o.groups, o.in_channels).eps(o.eps)));
    conv1 = register_module("conv1", conv(o.in_channels, o.out_channels, 3, 1, 1));
    if (o.temb_channels) time_emb_proj = register_module("time_emb_proj", torch::nn::Linear(*o.temb_channels, o.out_channels));
    norm2 = register_module("norm2", torch::nn::GroupNorm(torch::nn::GroupNormOptions(o.groups, o.out_channels).eps(o.eps)));
    conv2 = register_module("conv2", conv(o.out_channels, o.out_channels, 3, 1, 1));
    if (o.in_channels != o.out_channels) conv_shortcut = register_module("conv_shortcut", conv(o.in_channels, o.out_channels, 1, 1, 0));
}

at::Tensor ResnetBlock2DImpl::forward(const at::Tensor& input_tensor, const at::Tensor& temb) {
    at::Tensor h = ips::nn::conv2d(conv1, apply_group_norm(norm1, input_tensor, true));
    if (time_emb_proj && temb.defined()) h = h + time_emb_proj(at::silu(temb)).unsqueeze(-1).unsqueeze(-1);
    h = ips::nn::conv2d(conv2, apply_group_norm(norm2, h, true));
    const at::Tensor shortcut = conv_shortcut ? ips::nn::conv2d(conv_shortcut, input_tensor) : input_tensor;
    at::Tensor out = shortcut + h;
    return output_scale_factor == 1.0 ? out : out / output_scale_factor;
}

Downsample2DImpl::Downsample2DImpl(std::int64_t channels, std::int64_t out_channels, std::int64_t pad) : padding(pad) {
    conv = register_module("conv", ips::nn::conv(channels, out_channels, 3, 2, pad));
}

at::Tensor Downsample2DImpl::forward(const at::Tensor& hidden_states) {
    if (padding == 0) return conv(at::constant_pad_nd(hidden_states, {0, 1, 0, 1}, 0));
    return ips::nn::conv2d(conv, hidden_states);
}

Upsample2DImpl::Upsample2DImpl(std::int64_t channels, std::int64_t out_channels) {
    conv = register_module("conv", ips::nn::conv(channels, out_channels, 3, 1, 1));
}

at::Tensor Upsample2DImpl::forward(const at::Tensor& hidden_states, at::IntArrayRef output_size) {
    return phases.forward(*conv, hidden_states, output_size);
}

}  // namespace ips::nn
