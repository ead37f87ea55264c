#pragma once
// Mirrors diffusers Transformer2DModel (continuous input) with BasicTransformerBlock and its GEGLU
// FeedForward, as used by SD1.x/SD2.x UNets and ControlNets.
#include <vector>

#include <torch/nn.h>

#include "nn/attention_module.h"

namespace ips::nn {

// What the cross-attention layers attend to. Per-layer lists are indexed by the layer's position in
// forward order (down, mid, up); next_layer counts the layers as the forward pass reaches them.
struct CrossAttentionContext {
    at::Tensor encoder_hidden_states;  // [B, 77, C]
    // Precomputed to_k/to_v of encoder_hidden_states per layer (optional; same result, less work).
    const std::vector<KeyValue>* text_key_values = nullptr;
    // Image attentions to add per layer (IP-Adapter; optional).
    const std::vector<std::vector<ImagePromptAttention>>* image_prompts = nullptr;
    mutable std::size_t next_layer = 0;
};

// Mirrors diffusers GEGLU + FeedForward: net.0.proj (dim -> 2*inner), gelu gate, net.2 (inner -> dim).
struct FeedForwardImpl : torch::nn::Module {
    FeedForwardImpl(std::int64_t dim, std::int64_t mult = 4);
    at::Tensor forward(const at::Tensor& hidden_states);
    torch::nn::ModuleList net{nullptr};
};
TORCH_MODULE(FeedForward);

struct GEGLUImpl : torch::nn::Module {
    GEGLUImpl(std::int64_t dim_in, std::int64_t dim_out);
    at::Tensor forward(const at::Tensor& hidden_states);
    torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(GEGLU);

struct BasicTransformerBlockImpl : torch::nn::Module {
    BasicTransformerBlockImpl(std::int64_t dim, std::int64_t heads, std::int64_t dim_head, std::int64_t cross_attention_dim);
    at::Tensor forward(const at::Tensor& hidden_states, const CrossAttentionContext& context);
    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
    Attention attn1{nullptr}, attn2{nullptr};
    FeedForward ff{nullptr};
};
TORCH_MODULE(BasicTransformerBlock);

struct Transformer2DModelOptions {
    std::int64_t heads = 8;
    std::int64_t dim_head = 40;
    std::int64_t in_channels = 320;
    std::int64_t num_layers = 1;
    std::int64_t cross_attention_dim = 768;
    std::int64_t norm_num_groups = 32;
    bool use_linear_projection = false;
};

struct Transformer2DModelImpl : torch::nn::Module {
    explicit Transformer2DModelImpl(const Transformer2DModelOptions& options);
    // hidden_states [B, C, H, W] -> [B, C, H, W]
    at::Tensor forward(const at::Tensor& hidden_states, const CrossAttentionContext& context);
    torch::nn::GroupNorm norm{nullptr};
    torch::nn::AnyModule proj_in, proj_out;  // Conv2d 1x1, or Linear with use_linear_projection
    torch::nn::ModuleList transformer_blocks{nullptr};
    bool use_linear_projection = false;
};
TORCH_MODULE(Transformer2DModel);

}  // namespace ips::nn
