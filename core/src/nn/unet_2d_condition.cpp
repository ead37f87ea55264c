#include "nn/unet_2d_condition.h"

#include "ips/errors.h"
#include "nn/packed_conv.h"

namespace ips::nn {

std::vector<std::int64_t> heads_per_block(const std::vector<int>& num_attention_heads, const std::vector<int>& attention_head_dim) {
    const auto& source = num_attention_heads.empty() ? attention_head_dim : num_attention_heads;
    return std::vector<std::int64_t>(source.begin(), source.end());
}

void check_supported(const io::UNet2DConditionModelConfig& c, const std::string& file) {
    auto refuse = [&](const std::string& what) {
        throw ModelLoadError(file + ": unsupported UNet configuration: " + what + " (SD1.x/SD2.x UNets are supported)");
    };
    for (const auto& t : c.down_block_types)
        if (t != "CrossAttnDownBlock2D" && t != "DownBlock2D") refuse("down block type " + t);
    for (const auto& t : c.up_block_types)
        if (t != "CrossAttnUpBlock2D" && t != "UpBlock2D") refuse("up block type " + t);
    if (c.mid_block_type != "UNetMidBlock2DCrossAttn") refuse("mid block type " + c.mid_block_type);
    if (c.addition_embed_type) refuse("addition_embed_type " + *c.addition_embed_type + " (SDXL)");
    if (c.class_embed_type || c.num_class_embeds) refuse("class embeddings");
    if (c.time_embedding_type != "positional") refuse("time_embedding_type " + c.time_embedding_type);
    if (c.resnet_time_scale_shift != "default") refuse("resnet_time_scale_shift " + c.resnet_time_scale_shift);
    if (c.act_fn != "silu") refuse("act_fn " + c.act_fn);
    if (c.conv_in_kernel != 3 || c.conv_out_kernel != 3) refuse("conv kernels other than 3");
    if (c.attention_type != "default") refuse("attention_type " + c.attention_type);
    if (!c.norm_num_groups) refuse("norm_num_groups null");
    if (c.dual_cross_attention) refuse("dual cross-attention");
    for (bool only : c.only_cross_attention)
        if (only) refuse("only_cross_attention");
    const auto heads = heads_per_block(c.num_attention_heads, c.attention_head_dim);
    for (std::size_t i = 0; i < heads.size(); ++i)
        if (c.block_out_channels[i] % heads[i] != 0) refuse("block_out_channels not divisible by the head count");
}

BlockOptions down_block_options(const io::UNet2DConditionModelConfig& c, std::size_t i, std::int64_t temb_channels) {
    const auto heads = heads_per_block(c.num_attention_heads, c.attention_head_dim);
    BlockOptions o;
    o.in_channels = i == 0 ? c.block_out_channels[0] : c.block_out_channels[i - 1];
    o.out_channels = c.block_out_channels[i];
    o.temb_channels = temb_channels;
    o.num_layers = c.layers_per_block[i];
    o.transformer_layers = c.transformer_layers_per_block[i];
    o.resnet_groups = *c.norm_num_groups;
    o.resnet_eps = c.norm_eps;
    o.has_attention = c.down_block_types[i] == "CrossAttnDownBlock2D";
    o.num_attention_heads = heads[i];
    o.cross_attention_dim = c.cross_attention_dim[i];
    o.use_linear_projection = c.use_linear_projection;
    o.add_sample_resampler = i + 1 < c.block_out_channels.size();
    o.downsample_padding = c.downsample_padding;
    return o;
}

BlockOptions mid_block_options(const io::UNet2DConditionModelConfig& c, std::int64_t temb_channels) {
    BlockOptions mid;
    mid.in_channels = c.block_out_channels.back();
    mid.temb_channels = temb_channels;
    mid.num_layers = 1;
    mid.transformer_layers = c.transformer_layers_per_block.back();
    mid.resnet_groups = *c.norm_num_groups;
    mid.resnet_eps = c.norm_eps;
    mid.num_attention_heads = heads_per_block(c.num_attention_heads, c.attention_head_dim).back();
    mid.cross_attention_dim = c.cross_attention_dim.back();
    mid.use_linear_projection = c.use_linear_projection;
    return mid;
}

UNet2DConditionModelImpl::UNet2DConditionModelImpl(const io::UNet2DConditionModelConfig& c) : config(c) {
    const std::int64_t ch0 = c.block_out_channels[0];
    const std::int64_t temb = c.time_embedding_dim.value_or(ch0 * 4);
    const std::size_t n = c.block_out_channels.size();
    const auto heads = heads_per_block(c.num_attention_heads, c.attention_head_dim);

    conv_in = register_module("conv_in", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.in_channels, ch0, 3).padding(1)));
    time_embedding = register_module("time_embedding", TimestepEmbedding(ch0, temb, c.time_cond_proj_dim.value_or(0)));

    down_blocks = register_module("down_blocks", torch::nn::ModuleList());
    for (std::size_t i = 0; i < n; ++i) down_blocks->push_back(UNetDownBlock(down_block_options(c, i, temb)));

    mid_block = register_module("mid_block", UNetMidBlock2DCrossAttn(mid_block_options(c, temb)));

    up_blocks = register_module("up_blocks", torch::nn::ModuleList());
    std::int64_t prev_output = c.block_out_channels.back();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t r = n - 1 - i;  // the matching down block
        BlockOptions o;
        o.out_channels = c.block_out_channels[r];
        o.in_channels = c.block_out_channels[r == 0 ? 0 : r - 1];
        o.prev_output_channel = prev_output;
        o.temb_channels = temb;
        o.num_layers = c.layers_per_block[r] + 1;
        o.transformer_layers = c.transformer_layers_per_block[r];
        o.resnet_groups = *c.norm_num_groups;
        o.resnet_eps = c.norm_eps;
        o.has_attention = c.up_block_types[i] == "CrossAttnUpBlock2D";
        o.num_attention_heads = heads[r];
        o.cross_attention_dim = c.cross_attention_dim[r];
        o.use_linear_projection = c.use_linear_projection;
        o.add_sample_resampler = i + 1 < n;
        up_blocks->push_back(UNetUpBlock(o));
        prev_output = o.out_channels;
    }
    conv_norm_out = register_module(
        "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(*c.norm_num_groups, ch0).eps(c.norm_eps)));
    conv_out = register_module("conv_out", torch::nn::Conv2d(torch::nn::Conv2dOptions(ch0, c.out_channels, 3).padding(1)));
}

at::Tensor UNet2DConditionModelImpl::time_embed(const at::Tensor& timestep, std::int64_t batch, at::ScalarType dtype,
                                                const at::Tensor& timestep_cond) {
    at::Tensor t = timestep.dim() == 0 ? timestep.unsqueeze(0) : timestep;
    t = t.expand({batch});
    const at::Tensor t_emb = get_timestep_embedding(t, config.block_out_channels[0], config.flip_sin_to_cos, config.freq_shift);
    return time_embedding(t_emb.to(dtype), timestep_cond.defined() ? timestep_cond.to(dtype) : timestep_cond);
}

std::vector<Attention> UNet2DConditionModelImpl::cross_attention_layers() const {
    std::vector<Attention> layers;
    auto collect = [&](const torch::nn::ModuleList& attentions) {
        if (!attentions) return;
        for (const auto& t : *attentions)
            for (const auto& block : *t->as<Transformer2DModel>()->transformer_blocks)
                layers.push_back(block->as<BasicTransformerBlock>()->attn2);
    };
    for (const auto& b : *down_blocks) collect(b->as<UNetDownBlock>()->attentions);
    collect(mid_block->attentions);
    for (const auto& b : *up_blocks) collect(b->as<UNetUpBlock>()->attentions);
    return layers;
}

std::vector<std::string> UNet2DConditionModelImpl::cross_attention_layer_names() const {
    std::vector<std::string> names;
    auto collect = [&](const torch::nn::ModuleList& attentions, const std::string& prefix) {
        if (!attentions) return;
        for (std::size_t a = 0; a < attentions->size(); ++a) {
            const auto blocks = (*attentions)[a]->as<Transformer2DModel>()->transformer_blocks;
            for (std::size_t t = 0; t < blocks->size(); ++t)
                names.push_back(prefix + "attentions." + std::to_string(a) + ".transformer_blocks." + std::to_string(t) + ".attn2");
        }
    };
    for (std::size_t i = 0; i < down_blocks->size(); ++i)
        collect((*down_blocks)[i]->as<UNetDownBlock>()->attentions, "down_blocks." + std::to_string(i) + ".");
    collect(mid_block->attentions, "mid_block.");
    for (std::size_t i = 0; i < up_blocks->size(); ++i)
        collect((*up_blocks)[i]->as<UNetUpBlock>()->attentions, "up_blocks." + std::to_string(i) + ".");
    return names;
}

std::vector<KeyValue> UNet2DConditionModelImpl::precompute_text_key_values(const at::Tensor& encoder_hidden_states) {
    std::vector<KeyValue> kv;
    for (auto& layer : cross_attention_layers()) kv.push_back(layer->project_context(encoder_hidden_states));
    return kv;
}

at::Tensor UNet2DConditionModelImpl::forward(const UNetInputs& in) { return run(in, {}); }

at::Tensor UNet2DConditionModelImpl::forward_keeping(const UNetInputs& in, const DeepCacheBranch& branch, at::Tensor& deep_features) {
    return run(in, {&branch, &deep_features, nullptr});
}

at::Tensor UNet2DConditionModelImpl::forward_shallow(const UNetInputs& in, const DeepCacheBranch& branch,
                                                     const at::Tensor& deep_features) {
    if (!deep_features.defined()) throw Error("DeepCache: a shallow step before any full pass");
    return run(in, {&branch, nullptr, &deep_features});
}

std::size_t UNet2DConditionModelImpl::branch_up_block(const DeepCacheBranch& b) const { return up_blocks->size() - 1 - b.block; }

std::size_t UNet2DConditionModelImpl::branch_first_layer(const DeepCacheBranch& b) const {
    return (*up_blocks)[branch_up_block(b)]->as<UNetUpBlock>()->resnets->size() - 1 - b.layer;
}

std::size_t UNet2DConditionModelImpl::shallow_skip_count(const DeepCacheBranch& b) const {
    std::size_t count = 1;  // conv_in
    for (std::size_t i = 0; i < b.block; ++i) {
        const auto block = (*down_blocks)[i]->as<UNetDownBlock>();
        count += block->resnets->size() + (block->downsamplers ? 1 : 0);
    }
    return count + b.layer;
}

void UNet2DConditionModelImpl::check_branch(int id) const {
    const auto refuse = [&](const std::string& why) {
        throw InputError("deep_cache branch " + std::to_string(id) + ": " + why);
    };
    if (id < 0) refuse("must be 0 or more (0 is the shallowest and fastest)");
    const auto b = DeepCacheBranch::from_id(id);
    if (b.block >= down_blocks->size()) refuse("this UNet has " + std::to_string(down_blocks->size() * 3) + " branches (0 to " +
                                                std::to_string(down_blocks->size() * 3 - 1) + ")");
    const auto down = (*down_blocks)[b.block]->as<UNetDownBlock>();
    const auto up = (*up_blocks)[branch_up_block(b)]->as<UNetUpBlock>();
    if (b.layer > down->resnets->size() || b.layer >= up->resnets->size()) refuse("the UNet's block has fewer layers");
    // The shallow down path must make exactly the skips the shallow up path consumes.
    std::size_t consumed = b.layer + 1;
    for (std::size_t i = branch_up_block(b) + 1; i < up_blocks->size(); ++i) consumed += (*up_blocks)[i]->as<UNetUpBlock>()->resnets->size();
    if (consumed != shallow_skip_count(b)) refuse("the UNet's skip connections do not pair up for it");
}

std::size_t UNet2DConditionModelImpl::cross_attention_index(std::size_t block, std::size_t layer) const {
    const auto transformers = [](const torch::nn::ModuleList& attentions, std::size_t count) {
        std::size_t n = 0;
        if (!attentions) return n;
        for (std::size_t a = 0; a < count && a < attentions->size(); ++a)
            n += (*attentions)[a]->as<Transformer2DModel>()->transformer_blocks->size();
        return n;
    };
    std::size_t index = 0;
    for (const auto& b : *down_blocks) index += transformers(b->as<UNetDownBlock>()->attentions, SIZE_MAX);
    index += transformers(mid_block->attentions, SIZE_MAX);
    for (std::size_t i = 0; i < block; ++i) index += transformers((*up_blocks)[i]->as<UNetUpBlock>()->attentions, SIZE_MAX);
    return index + transformers((*up_blocks)[block]->as<UNetUpBlock>()->attentions, layer);
}

at::Tensor UNet2DConditionModelImpl::run(const UNetInputs& in, const DeepCachePass& pass) {
    const auto dtype = conv_in->weight.scalar_type();
    const at::Tensor emb = time_embed(in.timestep, in.sample.size(0), dtype, in.timestep_cond);
    CrossAttentionContext context;
    context.encoder_hidden_states = in.encoder_hidden_states;
    context.image_prompts = in.image_prompts;
    context.text_key_values = in.text_key_values;
    const bool shallow = pass.reuse != nullptr;
    const std::size_t limit = shallow ? shallow_skip_count(*pass.branch) : SIZE_MAX;

    at::Tensor h = conv2d(conv_in, in.sample);
    std::vector<at::Tensor> skips{h};
    for (const auto& block : *down_blocks) h = block->as<UNetDownBlock>()->forward(h, emb, context, skips, limit);

    const auto& residuals = in.down_block_additional_residuals;
    if (!residuals.empty()) {
        if (shallow ? residuals.size() < skips.size() : residuals.size() != skips.size())
            throw InputError("ControlNet gave " + std::to_string(residuals.size()) + " down residuals, the UNet expects " +
                             std::to_string(skips.size()));
        for (std::size_t i = 0; i < skips.size(); ++i) skips[i] = skips[i] + residuals[i];
    }
    if (!shallow) {
        h = mid_block->forward(h, emb, context);
        if (in.mid_block_additional_residual.defined()) h = h + in.mid_block_additional_residual;
    }

    const std::size_t entered = pass.branch ? branch_up_block(*pass.branch) : 0;
    const std::size_t first_layer = pass.branch ? branch_first_layer(*pass.branch) : 0;
    at::Tensor kept;
    const UNetUpBlockImpl::Capture capture{first_layer, &kept};
    for (std::size_t i = shallow ? entered : 0; i < up_blocks->size(); ++i) {
        auto block = up_blocks[i]->as<UNetUpBlock>();
        const std::size_t first = (shallow && i == entered) ? first_layer : 0;
        if (shallow && i == entered) {
            h = *pass.reuse;
            context.next_layer = cross_attention_index(i, first);
        }
        const std::size_t consumed = block->resnets->size() - first;
        // The upsampler matches the size of the next skip connection (odd latent sizes).
        std::vector<std::int64_t> upsample_size;
        if (block->upsamplers && skips.size() > consumed) {
            const auto& next = skips[skips.size() - consumed - 1];
            upsample_size = {next.size(2), next.size(3)};
        }
        h = block->forward(h, skips, emb, context, upsample_size, first, (pass.keep && i == entered) ? &capture : nullptr);
    }
    if (pass.keep) *pass.keep = kept;
    return conv2d(conv_out, apply_group_norm(conv_norm_out, h, true));
}

}  // namespace ips::nn
