#include "nn/clip_models.h"

#include <limits>

#include "ips/errors.h"

namespace ips::nn {
namespace {

ClipEncoderOptions encoder_options(std::int64_t hidden, std::int64_t intermediate, std::int64_t heads, std::int64_t layers,
                                   const std::string& act, double eps) {
    ClipEncoderOptions o;
    o.hidden_size = hidden;
    o.intermediate_size = intermediate;
    o.num_attention_heads = heads;
    o.num_hidden_layers = layers;
    o.hidden_act = act;
    o.layer_norm_eps = eps;
    return o;
}

// Additive causal mask [1, 1, N, N]: the dtype's lowest value above the diagonal, as transformers builds it.
at::Tensor causal_mask(std::int64_t n, const at::TensorOptions& options) {
    const double lowest = options.dtype() == at::kBFloat16 ? static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest())
                          : options.dtype() == at::kHalf ? static_cast<double>(std::numeric_limits<c10::Half>::lowest())
                                                         : static_cast<double>(std::numeric_limits<float>::lowest());
    return at::full({n, n}, lowest, options).triu(1).view({1, 1, n, n});
}

}  // namespace

CLIPTextEmbeddingsImpl::CLIPTextEmbeddingsImpl(const io::CLIPTextConfig& c) {
    token_embedding = register_module("token_embedding", torch::nn::Embedding(c.vocab_size, c.hidden_size));
    position_embedding = register_module("position_embedding", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
}

at::Tensor CLIPTextEmbeddingsImpl::forward(const at::Tensor& input_ids) {
    const auto n = input_ids.size(1);
    const at::Tensor positions = at::arange(n, input_ids.options().dtype(at::kLong)).unsqueeze(0);
    return token_embedding(input_ids) + position_embedding(positions);
}

CLIPTextTransformerImpl::CLIPTextTransformerImpl(const io::CLIPTextConfig& c) {
    embeddings = register_module("embeddings", CLIPTextEmbeddings(c));
    encoder = register_module("encoder", CLIPEncoder(encoder_options(c.hidden_size, c.intermediate_size, c.num_attention_heads,
                                                                     c.num_hidden_layers, c.hidden_act, c.layer_norm_eps)));
    final_layer_norm = register_module(
        "final_layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

CLIPTextModelImpl::CLIPTextModelImpl(const io::CLIPTextConfig& c) : config(c) {
    text_model = register_module("text_model", CLIPTextTransformer(c));
}

CLIPTextOutput CLIPTextModelImpl::forward(const at::Tensor& input_ids) {
    if (input_ids.size(1) > config.max_position_embeddings)
        throw InputError("text encoder input has " + std::to_string(input_ids.size(1)) + " tokens, more than " +
                         std::to_string(config.max_position_embeddings));
    const at::Tensor embeds = text_model->embeddings(input_ids);
    CLIPTextOutput out;
    out.hidden_states = text_model->encoder(embeds, causal_mask(input_ids.size(1), embeds.options()));
    out.last_hidden_state = text_model->final_layer_norm(out.hidden_states.back());
    // The pooled token is the EOS token. Legacy configs (eos_token_id 2) take the highest id instead,
    // which is EOS for CLIP's vocabulary.
    const at::Tensor eos_position = config.eos_token_id == 2
                                        ? input_ids.to(at::kInt).argmax(-1)
                                        : input_ids.eq(config.eos_token_id).to(at::kInt).argmax(-1);
    out.pooler_output = out.last_hidden_state.index({at::arange(input_ids.size(0), input_ids.options().dtype(at::kLong)), eos_position});
    return out;
}

at::Tensor CLIPTextModelImpl::encode_prompt(const at::Tensor& input_ids, int clip_skip) {
    if (clip_skip < 0 || clip_skip >= config.num_hidden_layers)
        throw InputError("clip_skip " + std::to_string(clip_skip) + " is outside 0.." + std::to_string(config.num_hidden_layers - 1));
    const at::Tensor embeds = text_model->embeddings(input_ids);
    const auto states = text_model->encoder(embeds, causal_mask(input_ids.size(1), embeds.options()),
                                            config.num_hidden_layers - clip_skip);
    return text_model->final_layer_norm(states.back());
}

const at::Tensor& CLIPTextModelImpl::token_embedding_weight() const {
    return text_model->embeddings->token_embedding->weight;
}

void CLIPTextModelImpl::set_token_embedding_weight(const at::Tensor& weight) {
    const at::Tensor& current = token_embedding_weight();
    if (weight.dim() != 2 || weight.size(1) != current.size(1))
        throw InputError("token embedding table must be [rows, " + std::to_string(current.size(1)) + "]");
    // A new Embedding around the given tensor: its options' _weight skips the random initialisation.
    auto& embeddings = *text_model->embeddings;
    const auto options = torch::nn::EmbeddingOptions(weight.size(0), weight.size(1))._weight(weight);
    embeddings.token_embedding = embeddings.replace_module("token_embedding", torch::nn::Embedding(options));
    config.vocab_size = static_cast<int>(weight.size(0));
}

CLIPVisionEmbeddingsImpl::CLIPVisionEmbeddingsImpl(const io::CLIPVisionConfig& c) {
    class_embedding = register_parameter("class_embedding", at::zeros({c.hidden_size}));
    patch_embedding = register_module(
        "patch_embedding",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size).stride(c.patch_size).bias(false)));
    const std::int64_t patches = (c.image_size / c.patch_size) * (c.image_size / c.patch_size);
    position_embedding = register_module("position_embedding", torch::nn::Embedding(patches + 1, c.hidden_size));
}

at::Tensor CLIPVisionEmbeddingsImpl::forward(const at::Tensor& pixel_values) {
    const auto b = pixel_values.size(0);
    const at::Tensor patches = patch_embedding(pixel_values.to(patch_embedding->weight.scalar_type())).flatten(2).transpose(1, 2);
    const at::Tensor cls = class_embedding.view({1, 1, -1}).expand({b, 1, class_embedding.size(0)});
    const at::Tensor embeddings = at::cat({cls, patches}, 1);
    const at::Tensor positions = at::arange(embeddings.size(1), pixel_values.options().dtype(at::kLong)).unsqueeze(0);
    return embeddings + position_embedding(positions);
}

CLIPVisionTransformerImpl::CLIPVisionTransformerImpl(const io::CLIPVisionConfig& c) {
    auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)); };
    embeddings = register_module("embeddings", CLIPVisionEmbeddings(c));
    pre_layrnorm = register_module("pre_layrnorm", ln());
    encoder = register_module("encoder", CLIPEncoder(encoder_options(c.hidden_size, c.intermediate_size, c.num_attention_heads,
                                                                     c.num_hidden_layers, c.hidden_act, c.layer_norm_eps)));
    post_layernorm = register_module("post_layernorm", ln());
}

CLIPVisionModelWithProjectionImpl::CLIPVisionModelWithProjectionImpl(const io::CLIPVisionConfig& c) : config(c) {
    vision_model = register_module("vision_model", CLIPVisionTransformer(c));
    visual_projection = register_module("visual_projection",
                                        torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, c.projection_dim).bias(false)));
}

CLIPVisionOutput CLIPVisionModelWithProjectionImpl::forward(const at::Tensor& pixel_values) {
    if (pixel_values.dim() != 4 || pixel_values.size(2) != config.image_size || pixel_values.size(3) != config.image_size)
        throw InputError("image encoder expects pixel values [B, 3, " + std::to_string(config.image_size) + ", " +
                         std::to_string(config.image_size) + "]");
    CLIPVisionOutput out;
    const at::Tensor h = vision_model->pre_layrnorm(vision_model->embeddings(pixel_values));
    out.hidden_states = vision_model->encoder(h, at::Tensor());
    out.last_hidden_state = out.hidden_states.back();
    const at::Tensor pooled = vision_model->post_layernorm(out.last_hidden_state.select(1, 0));
    out.image_embeds = visual_projection(pooled);
    return out;
}

}  // namespace ips::nn
