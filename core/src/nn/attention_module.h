#pragma once
// Mirrors diffusers Attention (attention_processor.py) with the classic AttnProcessor: to_q/to_k/to_v,
// to_out.0, optional group_norm (VAE mid block). Cross-attention layers accept extra image-prompt
// key/value pairs (the IP-Adapter's decoupled attention) through CrossAttentionExtras.
#include <optional>
#include <vector>

#include <torch/nn.h>

namespace ips::nn {

// Additional attention over image tokens sharing the query: out += scale * attn(q, k_ip, v_ip).
// ComfyUI's other embeds_scaling modes fold the layer weight into k_ip/v_ip beforehand and set scale 1
// (ipadapter::scale_image_attention), so this one formula serves them all.
struct ImagePromptAttention {
    at::Tensor key;    // [B, heads, N_ip, head_dim], already projected by to_k_ip
    at::Tensor value;  // [B, heads, N_ip, head_dim]
    double scale = 1.0;
    // Where this attention applies: [H, W] float32 0/1 at the output size (nn/ip_region.h turns it into
    // per-query weights for each layer); undefined = everywhere.
    at::Tensor region;
};

// Keys and values of a constant context (the prompt), projected once per generation instead of at
// every step: [B, heads, M, head_dim] each.
struct KeyValue {
    at::Tensor key;
    at::Tensor value;
};

struct AttentionOptions {
    std::int64_t query_dim = 0;
    std::optional<std::int64_t> cross_attention_dim;  // none: self-attention
    std::int64_t heads = 8;
    std::int64_t dim_head = 64;
    bool bias = false;            // to_q/to_k/to_v bias
    bool out_bias = true;
    std::optional<std::int64_t> norm_num_groups;  // group_norm before attention (VAE)
    double eps = 1e-5;
    bool residual_connection = false;
    bool spatial_input = false;  // input [B, C, H, W] (VAE mid block) instead of [B, N, C]
};

struct AttentionImpl : torch::nn::Module {
    explicit AttentionImpl(const AttentionOptions& options);

    // hidden_states [B, N, C] (or [B, C, H, W] when spatial_input); encoder_hidden_states [B, M, Cx] for
    // cross-attention. `image_prompts` adds decoupled image attentions (cross-attention only).
    // `context_kv`, when given, replaces projecting encoder_hidden_states (see project_context).
    at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& encoder_hidden_states = {},
                       const std::vector<ImagePromptAttention>* image_prompts = nullptr,
                       const KeyValue* context_kv = nullptr);

    // to_k/to_v of a context, split into heads: exactly what forward computes from it.
    KeyValue project_context(const at::Tensor& encoder_hidden_states);

    // [B, N, heads*dim_head] -> [B, heads, N, dim_head]
    at::Tensor split_heads(const at::Tensor& x) const;

    torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
    torch::nn::ModuleList to_out{nullptr};
    torch::nn::GroupNorm group_norm{nullptr};
    AttentionOptions options;
    double scale = 1.0;
};
TORCH_MODULE(Attention);

}  // namespace ips::nn
