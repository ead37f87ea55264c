#pragma once
// The IP-Adapter image projections of the official implementation (tencent-ailab/IP-Adapter), with
// its module names so the `image_proj.*` weights load by name:
//   ImageProjModel  (base, light, vit-G): image_embeds [B, D] -> [B, tokens, C]
//   Resampler       (plus, plus-face):    hidden states [B, T, H] -> [B, queries, C] (perceiver)
//   MLPProjModel    (full-face):          hidden states [B, T, H] -> [B, T, C]
#include <torch/nn.h>

namespace ips::ipadapter {

struct ImageProjModelImpl : torch::nn::Module {
    ImageProjModelImpl(std::int64_t embeddings_dim, std::int64_t cross_attention_dim, std::int64_t tokens);
    at::Tensor forward(const at::Tensor& image_embeds);
    torch::nn::Linear proj{nullptr};
    torch::nn::LayerNorm norm{nullptr};
    std::int64_t tokens, cross_attention_dim;
};
TORCH_MODULE(ImageProjModel);

struct PerceiverAttentionImpl : torch::nn::Module {
    PerceiverAttentionImpl(std::int64_t dim, std::int64_t dim_head, std::int64_t heads);
    at::Tensor forward(const at::Tensor& x, const at::Tensor& latents);
    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Linear to_q{nullptr}, to_kv{nullptr}, to_out{nullptr};
    std::int64_t dim_head, heads;
};
TORCH_MODULE(PerceiverAttention);

struct ResamplerOptions {
    std::int64_t dim = 768;            // latents width
    std::int64_t depth = 4;
    std::int64_t dim_head = 64;
    std::int64_t heads = 12;
    std::int64_t num_queries = 16;
    std::int64_t embedding_dim = 1280;  // image encoder hidden size
    std::int64_t output_dim = 768;      // cross_attention_dim
    std::int64_t ff_mult = 4;
};

struct ResamplerImpl : torch::nn::Module {
    explicit ResamplerImpl(const ResamplerOptions& options);
    at::Tensor forward(const at::Tensor& hidden_states);
    at::Tensor latents;
    torch::nn::Linear proj_in{nullptr}, proj_out{nullptr};
    torch::nn::LayerNorm norm_out{nullptr};
    // layers.i.0 = PerceiverAttention, layers.i.1 = FeedForward (LayerNorm, Linear, GELU, Linear)
    torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(Resampler);

struct MLPProjModelImpl : torch::nn::Module {
    MLPProjModelImpl(std::int64_t embeddings_dim, std::int64_t cross_attention_dim);
    at::Tensor forward(const at::Tensor& hidden_states);
    torch::nn::Sequential proj{nullptr};  // Linear, GELU, Linear, LayerNorm
};
TORCH_MODULE(MLPProjModel);

}  // namespace ips::ipadapter
