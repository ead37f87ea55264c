#include "nn/transformer_2d.h"

#include "nn/attention.h"
#include "nn/kernels/elementwise.h"
#include "nn/packed_conv.h"
#include "nn/resnet.h"

namespace ips::nn {
namespace {

// bfloat16 activations take the fused kernels (one pass, float32 arithmetic, one rounding); float32,
// the reference path, always LibTorch's operations.
bool fusable_bf16(const at::Tensor& t) {
    return t.scalar_type() == at::kBFloat16 && t.device().is_cpu() && t.is_contiguous() && fused_elementwise_enabled();
}
const std::uint16_t* bf16_bits(const at::Tensor& t) { return static_cast<const std::uint16_t*>(t.data_ptr()); }
std::uint16_t* bf16_bits(at::Tensor& t) { return static_cast<std::uint16_t*>(t.data_ptr()); }

at::Tensor layer_norm(torch::nn::LayerNorm& norm, const at::Tensor& x) {
    if (!fusable_bf16(x) || !fusable_bf16(norm->weight) || !fusable_bf16(norm->bias)) return norm(x);
    const std::int64_t width = x.size(-1);
    at::Tensor out = at::empty_like(x);
    kernels::layer_norm_bf16(bf16_bits(x), x.numel() / width, width, bf16_bits(norm->weight), bf16_bits(norm->bias),
                             static_cast<float>(norm->options.eps()), bf16_bits(out));
    return out;
}

}  // namespace

GEGLUImpl::GEGLUImpl(std::int64_t dim_in, std::int64_t dim_out) {
    proj = register_module("proj", torch::nn::Linear(dim_in, dim_out * 2));
}

at::Tensor GEGLUImpl::forward(const at::Tensor& hidden_states) {
    const at::Tensor projected = proj(hidden_states);
    if (fusable_bf16(projected)) {
        const std::int64_t inner = projected.size(-1) / 2;
        std::vector<std::int64_t> sizes = projected.sizes().vec();
        sizes.back() = inner;
        at::Tensor out = at::empty(sizes, projected.options());
        kernels::geglu_bf16(bf16_bits(projected), 2 * inner, projected.numel() / (2 * inner), inner, bf16_bits(out), inner);
        return out;
    }
    const auto parts = projected.chunk(2, -1);
    return parts[0] * at::gelu(parts[1]);
}

FeedForwardImpl::FeedForwardImpl(std::int64_t dim, std::int64_t mult) {
    const std::int64_t inner = dim * mult;
    net = register_module("net", torch::nn::ModuleList());
    net->push_back(GEGLU(dim, inner));
    net->push_back(torch::nn::Dropout(0.0));
    net->push_back(torch::nn::Linear(inner, dim));
}

at::Tensor FeedForwardImpl::forward(const at::Tensor& hidden_states) {
    return net[2]->as<torch::nn::Linear>()->forward(net[0]->as<GEGLU>()->forward(hidden_states));
}

BasicTransformerBlockImpl::BasicTransformerBlockImpl(std::int64_t dim, std::int64_t heads, std::int64_t dim_head,
                                                     std::int64_t cross_attention_dim) {
    auto layer_norm = [dim] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5)); };
    norm1 = register_module("norm1", layer_norm());
    AttentionOptions self;
    self.query_dim = dim;
    self.heads = heads;
    self.dim_head = dim_head;
    attn1 = register_module("attn1", Attention(self));
    norm2 = register_module("norm2", layer_norm());
    AttentionOptions cross = self;
    cross.cross_attention_dim = cross_attention_dim;
    attn2 = register_module("attn2", Attention(cross));
    norm3 = register_module("norm3", layer_norm());
    ff = register_module("ff", FeedForward(dim));
}

at::Tensor BasicTransformerBlockImpl::forward(const at::Tensor& hidden_states, const CrossAttentionContext& context) {
    at::Tensor h = attn1(layer_norm(norm1, hidden_states)) + hidden_states;
    const std::size_t layer = context.next_layer++;
    const std::vector<ImagePromptAttention>* image_prompts = nullptr;
    if (context.image_prompts && layer < context.image_prompts->size()) image_prompts = &(*context.image_prompts)[layer];
    const KeyValue* text_kv = nullptr;
    if (context.text_key_values && layer < context.text_key_values->size()) text_kv = &(*context.text_key_values)[layer];
    h = attn2(layer_norm(norm2, h), context.encoder_hidden_states, image_prompts, text_kv) + h;
    return ff(layer_norm(norm3, h)) + h;
}

Transformer2DModelImpl::Transformer2DModelImpl(const Transformer2DModelOptions& o)
    : use_linear_projection(o.use_linear_projection) {
    const std::int64_t inner = o.heads * o.dim_head;
    norm = register_module("norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(o.norm_num_groups, o.in_channels).eps(1e-6)));
    if (use_linear_projection) {
        proj_in = torch::nn::AnyModule(torch::nn::Linear(o.in_channels, inner));
        proj_out = torch::nn::AnyModule(torch::nn::Linear(inner, o.in_channels));
    } else {
        proj_in = torch::nn::AnyModule(torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in_channels, inner, 1)));
        proj_out = torch::nn::AnyModule(torch::nn::Conv2d(torch::nn::Conv2dOptions(inner, o.in_channels, 1)));
    }
    register_module("proj_in", proj_in.ptr());
    transformer_blocks = register_module("transformer_blocks", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < o.num_layers; ++i)
        transformer_blocks->push_back(BasicTransformerBlock(inner, o.heads, o.dim_head, o.cross_attention_dim));
    register_module("proj_out", proj_out.ptr());
}

namespace {
// proj_in / proj_out: a 1x1 convolution goes through conv2d (packed weights), a Linear as it is.
at::Tensor project(torch::nn::AnyModule& projection, const at::Tensor& x) {
    if (auto* conv = projection.ptr()->as<torch::nn::Conv2dImpl>()) return conv2d(*conv, x);
    return projection.forward(x);
}
}  // namespace

at::Tensor Transformer2DModelImpl::forward(const at::Tensor& hidden_states, const CrossAttentionContext& context) {
    const auto b = hidden_states.size(0), h = hidden_states.size(2), w = hidden_states.size(3);
    at::Tensor x = apply_group_norm(norm, hidden_states, false);
    if (!use_linear_projection) x = project(proj_in, x);
    const auto inner = x.size(1);
    x = x.permute({0, 2, 3, 1}).reshape({b, h * w, inner});  // [B, HW, C]
    if (use_linear_projection) x = proj_in.forward(x);
    for (const auto& block : *transformer_blocks) x = block->as<BasicTransformerBlock>()->forward(x, context);
    if (use_linear_projection) x = proj_out.forward(x);
    // [B, C, H, W] in the input's layout: channels-last stays channels-last (no copy). An NCHW result
    // here would turn every later activation NCHW — a 1x1 convolution's weight looks contiguous in both
    // layouts, so proj_out keeps its input's, and NCHW + channels-last adds to NCHW.
    x = x.reshape({b, h, w, x.size(2)}).permute({0, 3, 1, 2}).contiguous(hidden_states.suggest_memory_format());
    if (!use_linear_projection) x = project(proj_out, x);
    return x + hidden_states;
}

}  // namespace ips::nn
