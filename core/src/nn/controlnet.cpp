#include "nn/controlnet.h"

#include "ips/errors.h"
#include "nn/packed_conv.h"
#include "nn/unet_2d_condition.h"

namespace ips::nn {
namespace {

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2));
}

io::UNet2DConditionModelConfig as_unet_config(const io::ControlNetModelConfig& c) {
    io::UNet2DConditionModelConfig u;
    u.in_channels = c.in_channels;
    u.flip_sin_to_cos = c.flip_sin_to_cos;
    u.freq_shift = c.freq_shift;
    u.down_block_types = c.down_block_types;
    u.mid_block_type = c.mid_block_type;
    u.up_block_types.assign(c.down_block_types.size(), "UpBlock2D");
    u.only_cross_attention = c.only_cross_attention;
    u.block_out_channels = c.block_out_channels;
    u.layers_per_block = c.layers_per_block;
    u.downsample_padding = c.downsample_padding;
    u.act_fn = c.act_fn;
    u.norm_num_groups = c.norm_num_groups;
    u.norm_eps = c.norm_eps;
    u.cross_attention_dim = c.cross_attention_dim;
    u.transformer_layers_per_block = c.transformer_layers_per_block;
    u.attention_head_dim = c.attention_head_dim;
    u.num_attention_heads = c.num_attention_heads;
    u.use_linear_projection = c.use_linear_projection;
    u.upcast_attention = c.upcast_attention;
    u.resnet_time_scale_shift = c.resnet_time_scale_shift;
    u.class_embed_type = c.class_embed_type;
    u.addition_embed_type = c.addition_embed_type;
    return u;
}

}  // namespace

void check_supported(const io::ControlNetModelConfig& config, const std::string& file) {
    check_supported(as_unet_config(config), file);
    if (config.global_pool_conditions) throw ModelLoadError(file + ": unsupported ControlNet: global_pool_conditions");
}

ControlNetConditioningEmbeddingImpl::ControlNetConditioningEmbeddingImpl(std::int64_t embedding_channels,
                                                                         std::int64_t conditioning_channels,
                                                                         const std::vector<int>& boc) {
    conv_in = register_module("conv_in", conv(conditioning_channels, boc[0], 3));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (std::size_t i = 0; i + 1 < boc.size(); ++i) {
        blocks->push_back(conv(boc[i], boc[i], 3));
        blocks->push_back(conv(boc[i], boc[i + 1], 3, 2));
    }
    conv_out = register_module("conv_out", conv(boc.back(), embedding_channels, 3));
}

at::Tensor ControlNetConditioningEmbeddingImpl::forward(const at::Tensor& conditioning) {
    at::Tensor h = at::silu(conv_in(conditioning));
    for (const auto& block : *blocks) h = at::silu(block->as<torch::nn::Conv2d>()->forward(h));
    return conv_out(h);
}

ControlNetModelImpl::ControlNetModelImpl(const io::ControlNetModelConfig& c) : config(c), unet_config(as_unet_config(c)) {
    const std::int64_t ch0 = c.block_out_channels[0];
    const std::int64_t temb = ch0 * 4;
    conv_in = register_module("conv_in", conv(c.in_channels, ch0, 3));
    time_embedding = register_module("time_embedding", TimestepEmbedding(ch0, temb));
    controlnet_cond_embedding = register_module(
        "controlnet_cond_embedding",
        ControlNetConditioningEmbedding(ch0, c.conditioning_channels, c.conditioning_embedding_out_channels));

    down_blocks = register_module("down_blocks", torch::nn::ModuleList());
    controlnet_down_blocks = register_module("controlnet_down_blocks", torch::nn::ModuleList());
    controlnet_down_blocks->push_back(conv(ch0, ch0, 1));
    for (std::size_t i = 0; i < c.block_out_channels.size(); ++i) {
        const BlockOptions o = down_block_options(unet_config, i, temb);
        down_blocks->push_back(UNetDownBlock(o));
        for (std::int64_t l = 0; l < o.num_layers; ++l) controlnet_down_blocks->push_back(conv(o.out_channels, o.out_channels, 1));
        if (o.add_sample_resampler) controlnet_down_blocks->push_back(conv(o.out_channels, o.out_channels, 1));
    }
    mid_block = register_module("mid_block", UNetMidBlock2DCrossAttn(mid_block_options(unet_config, temb)));
    controlnet_mid_block = register_module("controlnet_mid_block", conv(c.block_out_channels.back(), c.block_out_channels.back(), 1));
}

ControlNetOutput ControlNetModelImpl::forward(const at::Tensor& sample, const at::Tensor& timestep,
                                              const at::Tensor& encoder_hidden_states, const at::Tensor& controlnet_cond,
                                              double conditioning_scale, std::size_t residual_limit) {
    const auto dtype = conv_in->weight.scalar_type();
    at::Tensor t = timestep.dim() == 0 ? timestep.unsqueeze(0) : timestep;
    t = t.expand({sample.size(0)});
    const at::Tensor emb = time_embedding(
        get_timestep_embedding(t, config.block_out_channels[0], config.flip_sin_to_cos, config.freq_shift).to(dtype));

    at::Tensor cond = controlnet_cond;
    if (config.controlnet_conditioning_channel_order == "bgr") cond = at::flip(cond, {1});
    at::Tensor h = conv2d(conv_in, sample) + controlnet_cond_embedding(cond);

    CrossAttentionContext context;
    context.encoder_hidden_states = encoder_hidden_states;
    std::vector<at::Tensor> states{h};
    for (const auto& block : *down_blocks) h = block->as<UNetDownBlock>()->forward(h, emb, context, states, residual_limit);
    const bool whole = residual_limit == SIZE_MAX;  // a limited pass stops in the down path
    if (whole) h = mid_block->forward(h, emb, context);

    ControlNetOutput out;
    for (std::size_t i = 0; i < states.size(); ++i)
        out.down_block_res_samples.push_back(conv2d(*controlnet_down_blocks[i]->as<torch::nn::Conv2d>(), states[i]) * conditioning_scale);
    if (whole) out.mid_block_res_sample = conv2d(controlnet_mid_block, h) * conditioning_scale;
    return out;
}

}  // namespace ips::nn
