#include "nn/unet_blocks.h"

#include "nn/cancel_point.h"

namespace ips::nn {

Transformer2DModel make_transformer(const BlockOptions& o, std::int64_t channels) {
    Transformer2DModelOptions t;
    t.heads = o.num_attention_heads;
    t.dim_head = channels / o.num_attention_heads;
    t.in_channels = channels;
    t.num_layers = o.transformer_layers;
    t.cross_attention_dim = o.cross_attention_dim;
    t.norm_num_groups = o.resnet_groups;
    t.use_linear_projection = o.use_linear_projection;
    return Transformer2DModel(t);
}

namespace {
ResnetBlock2D make_resnet(const BlockOptions& o, std::int64_t in, std::int64_t out) {
    ResnetBlock2DOptions r;
    r.in_channels = in;
    r.out_channels = out;
    r.temb_channels = o.temb_channels;
    r.groups = o.resnet_groups;
    r.eps = o.resnet_eps;
    return ResnetBlock2D(r);
}
}  // namespace

UNetDownBlockImpl::UNetDownBlockImpl(const BlockOptions& o) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    if (o.has_attention) attentions = register_module("attentions", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < o.num_layers; ++i) {
        resnets->push_back(make_resnet(o, i == 0 ? o.in_channels : o.out_channels, o.out_channels));
        if (o.has_attention) attentions->push_back(make_transformer(o, o.out_channels));
    }
    if (o.add_sample_resampler) {
        downsamplers = register_module("downsamplers", torch::nn::ModuleList());
        downsamplers->push_back(Downsample2D(o.out_channels, o.out_channels, o.downsample_padding));
    }
}

at::Tensor UNetDownBlockImpl::forward(at::Tensor h, const at::Tensor& temb, const CrossAttentionContext& context,
                                      std::vector<at::Tensor>& output_states, std::size_t limit) {
    for (std::size_t i = 0; i < resnets->size(); ++i) {
        if (output_states.size() >= limit) return h;
        cancel_point();
        h = resnets[i]->as<ResnetBlock2D>()->forward(h, temb);
        if (attentions) h = attentions[i]->as<Transformer2DModel>()->forward(h, context);
        output_states.push_back(h);
    }
    if (downsamplers && output_states.size() < limit) {
        h = downsamplers[0]->as<Downsample2D>()->forward(h);
        output_states.push_back(h);
    }
    return h;
}

UNetMidBlock2DCrossAttnImpl::UNetMidBlock2DCrossAttnImpl(const BlockOptions& o) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    attentions = register_module("attentions", torch::nn::ModuleList());
    resnets->push_back(make_resnet(o, o.in_channels, o.in_channels));
    for (std::int64_t i = 0; i < o.num_layers; ++i) {
        attentions->push_back(make_transformer(o, o.in_channels));
        resnets->push_back(make_resnet(o, o.in_channels, o.in_channels));
    }
}

at::Tensor UNetMidBlock2DCrossAttnImpl::forward(at::Tensor h, const at::Tensor& temb, const CrossAttentionContext& context) {
    h = resnets[0]->as<ResnetBlock2D>()->forward(h, temb);
    for (std::size_t i = 0; i < attentions->size(); ++i) {
        cancel_point();
        h = attentions[i]->as<Transformer2DModel>()->forward(h, context);
        h = resnets[i + 1]->as<ResnetBlock2D>()->forward(h, temb);
    }
    return h;
}

UNetUpBlockImpl::UNetUpBlockImpl(const BlockOptions& o) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    if (o.has_attention) attentions = register_module("attentions", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < o.num_layers; ++i) {
        const std::int64_t skip = (i == o.num_layers - 1) ? o.in_channels : o.out_channels;
        const std::int64_t in = (i == 0) ? o.prev_output_channel : o.out_channels;
        resnets->push_back(make_resnet(o, in + skip, o.out_channels));
        if (o.has_attention) attentions->push_back(make_transformer(o, o.out_channels));
    }
    if (o.add_sample_resampler) {
        upsamplers = register_module("upsamplers", torch::nn::ModuleList());
        upsamplers->push_back(Upsample2D(o.out_channels, o.out_channels));
    }
}

at::Tensor UNetUpBlockImpl::forward(at::Tensor h, std::vector<at::Tensor>& skips, const at::Tensor& temb,
                                    const CrossAttentionContext& context, at::IntArrayRef upsample_size, std::size_t first_layer,
                                    const Capture* entering) {
    for (std::size_t i = first_layer; i < resnets->size(); ++i) {
        cancel_point();
        if (entering && entering->layer == i) *entering->hidden = h;
        h = at::cat({h, skips.back()}, 1);
        skips.pop_back();
        h = resnets[i]->as<ResnetBlock2D>()->forward(h, temb);
        if (attentions) h = attentions[i]->as<Transformer2DModel>()->forward(h, context);
    }
    if (upsamplers) h = upsamplers[0]->as<Upsample2D>()->forward(h, upsample_size);
    return h;
}

}  // namespace ips::nn
