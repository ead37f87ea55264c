#pragma once
// Mirrors transformers' CLIP encoder pieces shared by the text and vision models: CLIPAttention,
// CLIPMLP, CLIPEncoderLayer, CLIPEncoder.
#include <string>
#include <vector>

#include <torch/nn.h>

namespace ips::nn {

struct ClipEncoderOptions {
    std::int64_t hidden_size = 768;
    std::int64_t intermediate_size = 3072;
    std::int64_t num_attention_heads = 12;
    std::int64_t num_hidden_layers = 12;
    std::string hidden_act = "quick_gelu";
    double layer_norm_eps = 1e-5;
};

at::Tensor clip_activation(const std::string& name, const at::Tensor& x);

struct CLIPAttentionImpl : torch::nn::Module {
    explicit CLIPAttentionImpl(const ClipEncoderOptions& options);
    at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& causal_mask);
    torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
    std::int64_t heads = 0, head_dim = 0;
    double scale = 1.0;
};
TORCH_MODULE(CLIPAttention);

struct CLIPMLPImpl : torch::nn::Module {
    explicit CLIPMLPImpl(const ClipEncoderOptions& options);
    at::Tensor forward(const at::Tensor& hidden_states);
    torch::nn::Linear fc1{nullptr}, fc2{nullptr};
    std::string act;
};
TORCH_MODULE(CLIPMLP);

struct CLIPEncoderLayerImpl : torch::nn::Module {
    explicit CLIPEncoderLayerImpl(const ClipEncoderOptions& options);
    at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& causal_mask);
    CLIPAttention self_attn{nullptr};
    torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
    CLIPMLP mlp{nullptr};
};
TORCH_MODULE(CLIPEncoderLayer);

struct CLIPEncoderImpl : torch::nn::Module {
    explicit CLIPEncoderImpl(const ClipEncoderOptions& options);
    // Returns every hidden state: the input first, then each layer's output (num_layers + 1 entries).
    // `stop_after` limits how many layers run (clip skip needs no more).
    std::vector<at::Tensor> forward(const at::Tensor& inputs_embeds, const at::Tensor& causal_mask,
                                    std::int64_t stop_after = -1);
    torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(CLIPEncoder);

}  // namespace ips::nn
