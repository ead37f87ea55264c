#pragma once
// Mirrors diffusers UNet2DConditionModel for the SD1.x/SD2.x block types.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn.h>

#include "io/configs.h"
#include "nn/embeddings.h"
#include "nn/unet_blocks.h"

namespace ips::nn {

struct UNetInputs {
    at::Tensor sample;                 // [B, in_channels, H/8, W/8]
    at::Tensor timestep;               // scalar or [B]
    at::Tensor encoder_hidden_states;  // [B, 77, cross_attention_dim]
    std::vector<at::Tensor> down_block_additional_residuals;  // ControlNet, optional
    at::Tensor mid_block_additional_residual;                 // ControlNet, optional
    // Image-prompt attentions per cross-attention layer (in forward order: down, mid, up); optional.
    const std::vector<std::vector<ImagePromptAttention>>* image_prompts = nullptr;
    // encoder_hidden_states already projected by every cross-attention layer (precompute_text_key_values).
    const std::vector<KeyValue>* text_key_values = nullptr;
    // Latent Consistency Model UNets (time_cond_proj_dim): the guidance embedding [B, time_cond_proj_dim].
    at::Tensor timestep_cond;
};

// DeepCache (horseee/DeepCache, CVPR 2024): between full passes, a step recomputes only a shallow branch of the
// UNet around the deep features kept from the last full pass. Branch ids count as DeepCacheSDHelper's do:
// down block id / 3 (its mirror up block counted from the output), layer id % 3 within it. Branch 0 is conv_in,
// the last up block's last resnet + attention, and conv_out.
struct DeepCacheBranch {
    std::size_t block = 0;
    std::size_t layer = 0;
    static DeepCacheBranch from_id(int id) {
        return {static_cast<std::size_t>(id / 3), static_cast<std::size_t>(id % 3)};
    }
};

struct UNet2DConditionModelImpl : torch::nn::Module {
    explicit UNet2DConditionModelImpl(const io::UNet2DConditionModelConfig& config);
    at::Tensor forward(const UNetInputs& inputs);  // -> noise prediction [B, out_channels, h, w]

    // A full pass (the same result as forward) that also stores the deep features `branch` reuses.
    at::Tensor forward_keeping(const UNetInputs& inputs, const DeepCacheBranch& branch, at::Tensor& deep_features);
    // A cached step: only the shallow branch, on `deep_features` from an earlier forward_keeping. ControlNet
    // residuals, when given, need only the first shallow_skip_count(branch) entries.
    at::Tensor forward_shallow(const UNetInputs& inputs, const DeepCacheBranch& branch, const at::Tensor& deep_features);
    // How many skip connections the shallow branch makes (and consumes).
    std::size_t shallow_skip_count(const DeepCacheBranch& branch) const;
    // Throws InputError when this UNet has no such branch.
    void check_branch(int id) const;

    // The cross-attention (attn2) modules in forward order: the layers IP-Adapter weights attach to.
    std::vector<Attention> cross_attention_layers() const;
    // Their diffusers names ("down_blocks.0.attentions.1.transformer_blocks.0.attn2"), same order.
    std::vector<std::string> cross_attention_layer_names() const;
    // The prompt's keys and values for every cross-attention layer, computed once per generation.
    std::vector<KeyValue> precompute_text_key_values(const at::Tensor& encoder_hidden_states);
    // Time embedding shared by UNet and ControlNet.
    at::Tensor time_embed(const at::Tensor& timestep, std::int64_t batch, at::ScalarType dtype, const at::Tensor& timestep_cond = {});

    io::UNet2DConditionModelConfig config;
    torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
    TimestepEmbedding time_embedding{nullptr};
    torch::nn::ModuleList down_blocks{nullptr}, up_blocks{nullptr};
    UNetMidBlock2DCrossAttn mid_block{nullptr};
    torch::nn::GroupNorm conv_norm_out{nullptr};

private:
    struct DeepCachePass {
        const DeepCacheBranch* branch = nullptr;
        at::Tensor* keep = nullptr;          // full pass: where the deep features go
        const at::Tensor* reuse = nullptr;   // shallow pass: the deep features used
    };
    at::Tensor run(const UNetInputs& inputs, const DeepCachePass& pass);
    // The up block a branch enters, and the first of its layers it runs.
    std::size_t branch_up_block(const DeepCacheBranch& branch) const;
    std::size_t branch_first_layer(const DeepCacheBranch& branch) const;
    // Index (in forward order) of the first cross-attention layer of up block `block` at `layer` onward.
    std::size_t cross_attention_index(std::size_t block, std::size_t layer) const;
};
TORCH_MODULE(UNet2DConditionModel);

// Raises ModelLoadError naming `file` for configs this implementation does not cover (SDXL added
// embeddings, other block types, ...), before any module is built.
void check_supported(const io::UNet2DConditionModelConfig& config, const std::string& file);

// Heads per block: diffusers reads attention_head_dim as the head count when num_attention_heads is unset.
std::vector<std::int64_t> heads_per_block(const std::vector<int>& num_attention_heads, const std::vector<int>& attention_head_dim);

// Shared by UNet and ControlNet: the down path's and the mid block's options.
BlockOptions down_block_options(const io::UNet2DConditionModelConfig& config, std::size_t index, std::int64_t temb_channels);
BlockOptions mid_block_options(const io::UNet2DConditionModelConfig& config, std::int64_t temb_channels);

}  // namespace ips::nn
