#pragma once
// config.json of each diffusers / transformers component, parsed into structs whose fields are the
// JSON keys, with the library's defaults for absent keys. Values that diffusers accepts either as one
// number or as one per block (layers_per_block, attention_head_dim, ...) are expanded per block here.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ips::io {

// Mirrors diffusers UNet2DConditionModel's config.
struct UNet2DConditionModelConfig {
    std::optional<int> sample_size;
    int in_channels = 4;
    int out_channels = 4;
    bool center_input_sample = false;
    bool flip_sin_to_cos = true;
    double freq_shift = 0;
    std::vector<std::string> down_block_types = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                 "CrossAttnDownBlock2D", "DownBlock2D"};
    std::string mid_block_type = "UNetMidBlock2DCrossAttn";
    std::vector<std::string> up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                               "CrossAttnUpBlock2D"};
    std::vector<bool> only_cross_attention;  // per down block
    std::vector<int> block_out_channels = {320, 640, 1280, 1280};
    std::vector<int> layers_per_block;  // per down block
    int downsample_padding = 1;
    double mid_block_scale_factor = 1;
    double dropout = 0;
    std::string act_fn = "silu";
    std::optional<int> norm_num_groups = 32;
    double norm_eps = 1e-5;
    std::vector<int> cross_attention_dim;           // per down block
    std::vector<int> transformer_layers_per_block;  // per down block
    std::vector<int> attention_head_dim;            // per down block
    std::vector<int> num_attention_heads;           // per down block; empty when absent (SD1.x)
    bool dual_cross_attention = false;
    bool use_linear_projection = false;
    std::optional<std::string> class_embed_type;
    std::optional<std::string> addition_embed_type;
    std::optional<int> num_class_embeds;
    bool upcast_attention = false;
    std::string resnet_time_scale_shift = "default";
    std::string time_embedding_type = "positional";
    std::optional<int> time_embedding_dim;
    std::optional<int> time_cond_proj_dim;
    std::optional<int> encoder_hid_dim;
    int conv_in_kernel = 3;
    int conv_out_kernel = 3;
    std::string attention_type = "default";
};

// Mirrors diffusers ControlNetModel's config.
struct ControlNetModelConfig {
    int in_channels = 4;
    int conditioning_channels = 3;
    bool flip_sin_to_cos = true;
    double freq_shift = 0;
    std::vector<std::string> down_block_types = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                 "CrossAttnDownBlock2D", "DownBlock2D"};
    std::string mid_block_type = "UNetMidBlock2DCrossAttn";
    std::vector<bool> only_cross_attention;
    std::vector<int> block_out_channels = {320, 640, 1280, 1280};
    std::vector<int> layers_per_block;
    int downsample_padding = 1;
    double mid_block_scale_factor = 1;
    std::string act_fn = "silu";
    std::optional<int> norm_num_groups = 32;
    double norm_eps = 1e-5;
    std::vector<int> cross_attention_dim;
    std::vector<int> transformer_layers_per_block;
    std::vector<int> attention_head_dim;
    std::vector<int> num_attention_heads;
    bool use_linear_projection = false;
    bool upcast_attention = false;
    std::string resnet_time_scale_shift = "default";
    std::string controlnet_conditioning_channel_order = "rgb";
    std::vector<int> conditioning_embedding_out_channels = {16, 32, 96, 256};
    bool global_pool_conditions = false;
    std::optional<std::string> class_embed_type;
    std::optional<std::string> addition_embed_type;
};

// Mirrors diffusers AutoencoderKL's config.
struct AutoencoderKLConfig {
    int in_channels = 3;
    int out_channels = 3;
    std::vector<std::string> down_block_types = {"DownEncoderBlock2D"};
    std::vector<std::string> up_block_types = {"UpDecoderBlock2D"};
    std::vector<int> block_out_channels = {64};
    int layers_per_block = 1;
    std::string act_fn = "silu";
    int latent_channels = 4;
    int norm_num_groups = 32;
    int sample_size = 32;
    double scaling_factor = 0.18215;
    std::optional<double> shift_factor;
    bool force_upcast = true;
    bool use_quant_conv = true;
    bool use_post_quant_conv = true;
    bool mid_block_add_attention = true;
};

// Mirrors diffusers AutoencoderTiny's config, the decoder's part (TAESD, used for live previews).
struct AutoencoderTinyConfig {
    int latent_channels = 4;
    int out_channels = 3;
    std::vector<int> decoder_block_out_channels = {64, 64, 64, 64};
    std::vector<int> num_decoder_blocks = {3, 3, 3, 1};
    int upsampling_scaling_factor = 2;
    std::string act_fn = "relu";
    std::string upsample_fn = "nearest";
};

// Mirrors transformers CLIPTextConfig.
struct CLIPTextConfig {
    int vocab_size = 49408;
    int hidden_size = 512;
    int intermediate_size = 2048;
    int projection_dim = 512;
    int num_hidden_layers = 12;
    int num_attention_heads = 8;
    int max_position_embeddings = 77;
    std::string hidden_act = "quick_gelu";
    double layer_norm_eps = 1e-5;
    std::int64_t pad_token_id = 1;
    std::int64_t bos_token_id = 49406;
    std::int64_t eos_token_id = 49407;
};

// Mirrors transformers CLIPVisionConfig.
struct CLIPVisionConfig {
    int hidden_size = 768;
    int intermediate_size = 3072;
    int projection_dim = 512;
    int num_hidden_layers = 12;
    int num_attention_heads = 12;
    int num_channels = 3;
    int image_size = 224;
    int patch_size = 32;
    std::string hidden_act = "quick_gelu";
    double layer_norm_eps = 1e-5;
};

// The fields shared by diffusers' schedulers (scheduler_config.json); each scheduler reads its own
// extra keys from `raw`.
struct SchedulerConfig {
    std::string class_name;  // "_class_name"
    int num_train_timesteps = 1000;
    double beta_start = 0.0001;
    double beta_end = 0.02;
    std::string beta_schedule = "linear";
    std::optional<std::vector<double>> trained_betas;
    std::string prediction_type = "epsilon";
    int steps_offset = 0;
    std::string timestep_spacing = "leading";
    bool clip_sample = true;
    bool set_alpha_to_one = true;
    bool skip_prk_steps = false;
    bool rescale_betas_zero_snr = false;
    std::string raw;  // the whole JSON text
};

// Each parser throws ModelLoadError naming the file and the key when a value has the wrong type or an
// impossible value (a per-block list whose length does not match the number of blocks, ...).
UNet2DConditionModelConfig parse_unet_config(const nlohmann::json& json, const std::string& file);
ControlNetModelConfig parse_controlnet_config(const nlohmann::json& json, const std::string& file);
AutoencoderKLConfig parse_vae_config(const nlohmann::json& json, const std::string& file);
AutoencoderTinyConfig parse_tiny_vae_config(const nlohmann::json& json, const std::string& file);
CLIPTextConfig parse_clip_text_config(const nlohmann::json& json, const std::string& file);
CLIPVisionConfig parse_clip_vision_config(const nlohmann::json& json, const std::string& file);
SchedulerConfig parse_scheduler_config(const nlohmann::json& json, const std::string& file);

template <typename Config>
Config load_config(const std::filesystem::path& path);

}  // namespace ips::io
