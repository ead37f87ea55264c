#include "nn/attention_module.h"

#include <cmath>

#include "nn/attention.h"
#include "nn/ip_region.h"
#include "nn/resnet.h"

namespace ips::nn {

AttentionImpl::AttentionImpl(const AttentionOptions& o) : options(o) {
    const std::int64_t inner = o.heads * o.dim_head;
    const std::int64_t context = o.cross_attention_dim.value_or(o.query_dim);
    scale = 1.0 / std::sqrt(static_cast<double>(o.dim_head));
    if (o.norm_num_groups)
        group_norm = register_module(
            "group_norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(*o.norm_num_groups, o.query_dim).eps(o.eps)));
    to_q = register_module("to_q", torch::nn::Linear(torch::nn::LinearOptions(o.query_dim, inner).bias(o.bias)));
    to_k = register_module("to_k", torch::nn::Linear(torch::nn::LinearOptions(context, inner).bias(o.bias)));
    to_v = register_module("to_v", torch::nn::Linear(torch::nn::LinearOptions(context, inner).bias(o.bias)));
    to_out = register_module("to_out", torch::nn::ModuleList());
    to_out->push_back(torch::nn::Linear(torch::nn::LinearOptions(inner, o.query_dim).bias(o.out_bias)));
}

at::Tensor AttentionImpl::split_heads(const at::Tensor& x) const {
    return x.view({x.size(0), x.size(1), options.heads, options.dim_head}).transpose(1, 2);
}

KeyValue AttentionImpl::project_context(const at::Tensor& context) {
    return {split_heads(to_k(context)), split_heads(to_v(context))};
}

at::Tensor AttentionImpl::forward(const at::Tensor& input, const at::Tensor& encoder_hidden_states,
                                  const std::vector<ImagePromptAttention>* image_prompts, const KeyValue* context_kv) {
    at::Tensor hidden = input;
    const auto sizes = input.sizes().vec();
    if (options.spatial_input) hidden = hidden.view({sizes[0], sizes[1], sizes[2] * sizes[3]}).transpose(1, 2);
    if (group_norm) hidden = apply_group_norm(group_norm, hidden.transpose(1, 2), false).transpose(1, 2);

    const at::Tensor q = split_heads(to_q(hidden));
    const KeyValue kv = context_kv ? *context_kv
                                   : project_context(encoder_hidden_states.defined() ? encoder_hidden_states : hidden);
    at::Tensor out = scaled_dot_product_attention(q, kv.key, kv.value, scale);
    if (image_prompts) {
        for (const auto& ip : *image_prompts) {
            if (ip.scale == 0.0) continue;
            at::Tensor image_out = scaled_dot_product_attention(q, ip.key, ip.value, scale);
            if (ip.region.defined()) image_out = image_out * region_query_weights(ip.region, q.size(2), image_out.scalar_type());
            out = out + ip.scale * image_out;
        }
    }
    out = out.transpose(1, 2).reshape({out.size(0), out.size(2), options.heads * options.dim_head});
    out = to_out[0]->as<torch::nn::Linear>()->forward(out);

    if (options.spatial_input) out = out.transpose(1, 2).reshape(sizes);
    if (options.residual_connection) out = out + input;
    return out;
}

}  // namespace ips::nn
