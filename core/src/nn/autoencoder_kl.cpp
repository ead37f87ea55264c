#include "nn/autoencoder_kl.h"

#include "ips/errors.h"
#include "nn/cancel_point.h"
#include "nn/packed_conv.h"

namespace ips::nn {
namespace {

constexpr double kVaeEps = 1e-6;

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
}

ResnetBlock2D vae_resnet(std::int64_t in, std::int64_t out, std::int64_t groups) {
    ResnetBlock2DOptions o;
    o.in_channels = in;
    o.out_channels = out;
    o.groups = groups;
    o.eps = kVaeEps;
    return ResnetBlock2D(o);
}

}  // namespace

void check_supported(const io::AutoencoderKLConfig& c, const std::string& file) {
    for (const auto& t : c.down_block_types)
        if (t != "DownEncoderBlock2D") throw ModelLoadError(file + ": unsupported VAE down block type " + t);
    for (const auto& t : c.up_block_types)
        if (t != "UpDecoderBlock2D") throw ModelLoadError(file + ": unsupported VAE up block type " + t);
    if (c.up_block_types.size() != c.block_out_channels.size())
        throw ModelLoadError(file + ": key 'up_block_types': expected one per entry of block_out_channels");
    if (c.act_fn != "silu") throw ModelLoadError(file + ": unsupported VAE act_fn " + c.act_fn);
}

UNetMidBlock2DImpl::UNetMidBlock2DImpl(std::int64_t channels, std::int64_t groups, double eps, bool add_attention) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    resnets->push_back(vae_resnet(channels, channels, groups));
    if (add_attention) {
        attentions = register_module("attentions", torch::nn::ModuleList());
        AttentionOptions a;
        a.query_dim = channels;
        a.heads = 1;
        a.dim_head = channels;
        a.bias = true;
        a.norm_num_groups = groups;
        a.eps = eps;
        a.residual_connection = true;
        a.spatial_input = true;
        attentions->push_back(Attention(a));
    }
    resnets->push_back(vae_resnet(channels, channels, groups));
}

at::Tensor UNetMidBlock2DImpl::forward(at::Tensor h) {
    h = resnets[0]->as<ResnetBlock2D>()->forward(h);
    if (attentions) h = attentions[0]->as<Attention>()->forward(h);
    return resnets[1]->as<ResnetBlock2D>()->forward(h);
}

VaeBlockImpl::VaeBlockImpl(bool up, std::int64_t in, std::int64_t out, std::int64_t num_layers, std::int64_t groups,
                           bool add_resampler) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < num_layers; ++i) resnets->push_back(vae_resnet(i == 0 ? in : out, out, groups));
    if (!add_resampler) return;
    if (up) {
        upsamplers = register_module("upsamplers", torch::nn::ModuleList());
        upsamplers->push_back(Upsample2D(out, out));
    } else {
        downsamplers = register_module("downsamplers", torch::nn::ModuleList());
        downsamplers->push_back(Downsample2D(out, out, 0));
    }
}

at::Tensor VaeBlockImpl::forward(at::Tensor h) {
    for (const auto& r : *resnets) {
        cancel_point();
        h = r->as<ResnetBlock2D>()->forward(h);
    }
    if (downsamplers) h = downsamplers[0]->as<Downsample2D>()->forward(h);
    if (upsamplers) h = upsamplers[0]->as<Upsample2D>()->forward(h);
    return h;
}

EncoderImpl::EncoderImpl(const io::AutoencoderKLConfig& c) {
    const auto& boc = c.block_out_channels;
    conv_in = register_module("conv_in", conv(c.in_channels, boc[0], 3));
    down_blocks = register_module("down_blocks", torch::nn::ModuleList());
    for (std::size_t i = 0; i < boc.size(); ++i)
        down_blocks->push_back(VaeBlock(false, i == 0 ? boc[0] : boc[i - 1], boc[i], c.layers_per_block, c.norm_num_groups,
                                        i + 1 < boc.size()));
    mid_block = register_module("mid_block", UNetMidBlock2D(boc.back(), c.norm_num_groups, kVaeEps, c.mid_block_add_attention));
    conv_norm_out = register_module(
        "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(c.norm_num_groups, boc.back()).eps(kVaeEps)));
    conv_out = register_module("conv_out", conv(boc.back(), 2 * c.latent_channels, 3));
}

at::Tensor EncoderImpl::forward(const at::Tensor& sample) {
    at::Tensor h = conv2d(conv_in, sample);
    for (const auto& b : *down_blocks) h = b->as<VaeBlock>()->forward(h);
    h = mid_block(h);
    return conv2d(conv_out, apply_group_norm(conv_norm_out, h, true));
}

DecoderImpl::DecoderImpl(const io::AutoencoderKLConfig& c) {
    const auto& boc = c.block_out_channels;
    const std::size_t n = boc.size();
    conv_in = register_module("conv_in", conv(c.latent_channels, boc.back(), 3));
    mid_block = register_module("mid_block", UNetMidBlock2D(boc.back(), c.norm_num_groups, kVaeEps, c.mid_block_add_attention));
    up_blocks = register_module("up_blocks", torch::nn::ModuleList());
    std::int64_t prev = boc.back();
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t out = boc[n - 1 - i];
        up_blocks->push_back(VaeBlock(true, prev, out, c.layers_per_block + 1, c.norm_num_groups, i + 1 < n));
        prev = out;
    }
    conv_norm_out = register_module(
        "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(c.norm_num_groups, boc[0]).eps(kVaeEps)));
    conv_out = register_module("conv_out", conv(boc[0], c.out_channels, 3));
}

at::Tensor DecoderImpl::forward(const at::Tensor& z) {
    at::Tensor h = mid_block(conv2d(conv_in, z));
    for (const auto& b : *up_blocks) h = b->as<VaeBlock>()->forward(h);
    return conv2d(conv_out, apply_group_norm(conv_norm_out, h, true));
}

at::Tensor LatentDistribution::sample(c10::optional<at::Generator> generator) const {
    // Drawn on the CPU like diffusers' CPU generator, then moved: the same seed gives the same latents everywhere.
    const at::Tensor noise = at::randn(mean.sizes(), generator, mean.options().device(at::kCPU)).to(mean.device());
    return mean + std * noise;
}

AutoencoderKLImpl::AutoencoderKLImpl(const io::AutoencoderKLConfig& c) : config(c) {
    encoder = register_module("encoder", Encoder(c));
    decoder = register_module("decoder", Decoder(c));
    if (c.use_quant_conv) quant_conv = register_module("quant_conv", conv(2 * c.latent_channels, 2 * c.latent_channels, 1));
    if (c.use_post_quant_conv)
        post_quant_conv = register_module("post_quant_conv", conv(c.latent_channels, c.latent_channels, 1));
}

LatentDistribution AutoencoderKLImpl::encode(const at::Tensor& sample) {
    at::Tensor moments = encoder(sample);
    if (quant_conv) moments = conv2d(quant_conv, moments);
    const auto parts = moments.chunk(2, 1);
    LatentDistribution d;
    d.mean = parts[0];
    d.logvar = at::clamp(parts[1], -30.0, 20.0);
    d.std = at::exp(0.5 * d.logvar);
    return d;
}

at::Tensor AutoencoderKLImpl::decode(const at::Tensor& z) {
    at::Tensor h = post_quant_conv ? conv2d(post_quant_conv, z) : z;
    return decoder(h);
}

}  // namespace ips::nn
