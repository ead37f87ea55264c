#pragma once
// Mirrors transformers CLIPTextModel and CLIPVisionModelWithProjection.
#include <vector>

#include <torch/nn.h>

#include "io/configs.h"
#include "nn/clip_encoder.h"

namespace ips::nn {

struct CLIPTextEmbeddingsImpl : torch::nn::Module {
    explicit CLIPTextEmbeddingsImpl(const io::CLIPTextConfig& config);
    at::Tensor forward(const at::Tensor& input_ids);
    torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
};
TORCH_MODULE(CLIPTextEmbeddings);

struct CLIPTextTransformerImpl : torch::nn::Module {
    explicit CLIPTextTransformerImpl(const io::CLIPTextConfig& config);
    CLIPTextEmbeddings embeddings{nullptr};
    CLIPEncoder encoder{nullptr};
    torch::nn::LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(CLIPTextTransformer);

struct CLIPTextOutput {
    at::Tensor last_hidden_state;           // [B, N, D] after final_layer_norm
    at::Tensor pooler_output;               // [B, D]
    std::vector<at::Tensor> hidden_states;  // embeddings, then each layer (raw, before final_layer_norm)
};

struct CLIPTextModelImpl : torch::nn::Module {
    explicit CLIPTextModelImpl(const io::CLIPTextConfig& config);
    CLIPTextOutput forward(const at::Tensor& input_ids);
    // The prompt embeddings diffusers feeds the UNet: last_hidden_state, or with clip_skip = k the
    // hidden state k layers before the last, passed through final_layer_norm. Runs only the layers needed.
    at::Tensor encode_prompt(const at::Tensor& input_ids, int clip_skip = 0);
    // The token embedding table [vocab, D] (transformers' get_input_embeddings().weight).
    const at::Tensor& token_embedding_weight() const;
    // Replaces the table by `weight` [rows, D], used as it is (no copy): textual inversion appends rows
    // (transformers' resize_token_embeddings + row assignment) and later puts the original back.
    void set_token_embedding_weight(const at::Tensor& weight);

    io::CLIPTextConfig config;
    CLIPTextTransformer text_model{nullptr};
};
TORCH_MODULE(CLIPTextModel);

struct CLIPVisionEmbeddingsImpl : torch::nn::Module {
    explicit CLIPVisionEmbeddingsImpl(const io::CLIPVisionConfig& config);
    at::Tensor forward(const at::Tensor& pixel_values);  // [B, 3, S, S] -> [B, 1 + patches, D]
    at::Tensor class_embedding;
    torch::nn::Conv2d patch_embedding{nullptr};
    torch::nn::Embedding position_embedding{nullptr};
};
TORCH_MODULE(CLIPVisionEmbeddings);

struct CLIPVisionTransformerImpl : torch::nn::Module {
    explicit CLIPVisionTransformerImpl(const io::CLIPVisionConfig& config);
    CLIPVisionEmbeddings embeddings{nullptr};
    torch::nn::LayerNorm pre_layrnorm{nullptr}, post_layernorm{nullptr};  // sic: transformers' names
    CLIPEncoder encoder{nullptr};
};
TORCH_MODULE(CLIPVisionTransformer);

struct CLIPVisionOutput {
    at::Tensor image_embeds;                // [B, projection_dim]
    at::Tensor last_hidden_state;           // [B, 1 + patches, D]
    std::vector<at::Tensor> hidden_states;  // after pre_layrnorm, then each layer
};

struct CLIPVisionModelWithProjectionImpl : torch::nn::Module {
    explicit CLIPVisionModelWithProjectionImpl(const io::CLIPVisionConfig& config);
    CLIPVisionOutput forward(const at::Tensor& pixel_values);

    io::CLIPVisionConfig config;
    CLIPVisionTransformer vision_model{nullptr};
    torch::nn::Linear visual_projection{nullptr};
};
TORCH_MODULE(CLIPVisionModelWithProjection);

}  // namespace ips::nn
