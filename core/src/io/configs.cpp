#include "io/configs.h"

#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "ips/errors.h"

namespace ips::io {
namespace {

using nlohmann::json;

template <typename T>
struct is_vector : std::false_type {};
template <typename T>
struct is_vector<std::vector<T>> : std::true_type {};

// Reads typed keys of one config file; every error names the file and the key.
class ConfigReader {
public:
    ConfigReader(const json& j, std::string file) : j_(j), file_(std::move(file)) {
        if (!j_.is_object()) throw ModelLoadError(file_ + ": expected a JSON object");
    }

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw ModelLoadError(file_ + ": key '" + key + "': " + what);
    }

    bool has(const std::string& key) const { return j_.contains(key) && !j_.at(key).is_null(); }

    template <typename T>
    void get(const std::string& key, T& into) const {
        if (!has(key)) return;
        into = convert<T>(j_.at(key), key);
    }
    template <typename T>
    void get(const std::string& key, std::optional<T>& into) const {
        if (!j_.contains(key)) return;
        if (j_.at(key).is_null()) into.reset();
        else into = convert<T>(j_.at(key), key);
    }
    template <typename T>
    void get(const std::string& key, std::vector<T>& into) const {
        if (!has(key)) return;
        const json& v = j_.at(key);
        if (!v.is_array()) fail(key, "expected a list");
        into.clear();
        for (const auto& item : v) into.push_back(convert<T>(item, key));
    }
    // A value given either as one number for all blocks or as one per block.
    template <typename T>
    std::vector<T> per_block(const std::string& key, std::optional<T> fallback, std::size_t blocks) const {
        if (!has(key)) return fallback ? std::vector<T>(blocks, *fallback) : std::vector<T>{};
        const json& v = j_.at(key);
        if (v.is_array()) {
            if (v.size() != blocks)
                fail(key, "has " + std::to_string(v.size()) + " values, expected one per block (" +
                              std::to_string(blocks) + ")");
            std::vector<T> out;
            for (const auto& item : v) out.push_back(convert<T>(item, key));
            return out;
        }
        return std::vector<T>(blocks, convert<T>(v, key));
    }

private:
    template <typename T>
    T convert(const json& v, const std::string& key) const {
        if constexpr (std::is_same_v<T, bool>) {
            if (!v.is_boolean()) fail(key, "expected true or false, got " + v.dump());
            return v.get<bool>();
        } else if constexpr (std::is_integral_v<T>) {
            if (v.is_number_integer()) return v.get<T>();
            // Some exported configs write integers as 1.0.
            if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<T>(v.get<double>())))
                return static_cast<T>(v.get<double>());
            fail(key, "expected an integer, got " + v.dump());
        } else if constexpr (is_vector<T>::value) {
            if (!v.is_array()) fail(key, "expected a list, got " + v.dump());
            T out;
            for (const auto& item : v) out.push_back(convert<typename T::value_type>(item, key));
            return out;
        } else if constexpr (std::is_floating_point_v<T>) {
            if (!v.is_number()) fail(key, "expected a number, got " + v.dump());
            return v.get<T>();
        } else {
            if (!v.is_string()) fail(key, "expected a string, got " + v.dump());
            return v.get<std::string>();
        }
    }
    const json& j_;
    std::string file_;
};

void require_positive(const ConfigReader& r, const std::string& key, const std::vector<int>& values) {
    for (int v : values)
        if (v <= 0) r.fail(key, "values must be positive");
}

// The keys UNet2DConditionModel and ControlNetModel share.
template <typename Config>
void read_unet_like(const ConfigReader& r, Config& c) {
    r.get("in_channels", c.in_channels);
    r.get("flip_sin_to_cos", c.flip_sin_to_cos);
    r.get("freq_shift", c.freq_shift);
    r.get("down_block_types", c.down_block_types);
    r.get("mid_block_type", c.mid_block_type);
    r.get("block_out_channels", c.block_out_channels);
    const std::size_t blocks = c.down_block_types.size();
    if (blocks == 0) r.fail("down_block_types", "must name at least one block");
    if (c.block_out_channels.size() != blocks)
        r.fail("block_out_channels", "has " + std::to_string(c.block_out_channels.size()) +
                                         " values, expected one per down block (" + std::to_string(blocks) + ")");
    require_positive(r, "block_out_channels", c.block_out_channels);
    c.only_cross_attention = r.per_block<bool>("only_cross_attention", false, blocks);
    c.layers_per_block = r.per_block<int>("layers_per_block", 2, blocks);
    r.get("downsample_padding", c.downsample_padding);
    r.get("mid_block_scale_factor", c.mid_block_scale_factor);
    r.get("act_fn", c.act_fn);
    r.get("norm_num_groups", c.norm_num_groups);
    r.get("norm_eps", c.norm_eps);
    c.cross_attention_dim = r.per_block<int>("cross_attention_dim", 1280, blocks);
    c.transformer_layers_per_block = r.per_block<int>("transformer_layers_per_block", 1, blocks);
    c.attention_head_dim = r.per_block<int>("attention_head_dim", 8, blocks);
    c.num_attention_heads = r.per_block<int>("num_attention_heads", std::nullopt, blocks);
    require_positive(r, "layers_per_block", c.layers_per_block);
    require_positive(r, "cross_attention_dim", c.cross_attention_dim);
    require_positive(r, "attention_head_dim", c.attention_head_dim);
    require_positive(r, "num_attention_heads", c.num_attention_heads);
    r.get("use_linear_projection", c.use_linear_projection);
    r.get("upcast_attention", c.upcast_attention);
    r.get("resnet_time_scale_shift", c.resnet_time_scale_shift);
    r.get("class_embed_type", c.class_embed_type);
    r.get("addition_embed_type", c.addition_embed_type);
}

}  // namespace

UNet2DConditionModelConfig parse_unet_config(const json& j, const std::string& file) {
    ConfigReader r(j, file);
    UNet2DConditionModelConfig c;
    r.get("sample_size", c.sample_size);
    read_unet_like(r, c);
    r.get("out_channels", c.out_channels);
    r.get("center_input_sample", c.center_input_sample);
    r.get("up_block_types", c.up_block_types);
    if (c.up_block_types.size() != c.down_block_types.size())
        r.fail("up_block_types", "has " + std::to_string(c.up_block_types.size()) +
                                     " blocks, expected as many as down_block_types (" +
                                     std::to_string(c.down_block_types.size()) + ")");
    r.get("dropout", c.dropout);
    r.get("dual_cross_attention", c.dual_cross_attention);
    r.get("num_class_embeds", c.num_class_embeds);
    r.get("time_embedding_type", c.time_embedding_type);
    r.get("time_embedding_dim", c.time_embedding_dim);
    r.get("time_cond_proj_dim", c.time_cond_proj_dim);
    r.get("encoder_hid_dim", c.encoder_hid_dim);
    r.get("conv_in_kernel", c.conv_in_kernel);
    r.get("conv_out_kernel", c.conv_out_kernel);
    r.get("attention_type", c.attention_type);
    return c;
}

ControlNetModelConfig parse_controlnet_config(const json& j, const std::string& file) {
    ConfigReader r(j, file);
    ControlNetModelConfig c;
    read_unet_like(r, c);
    r.get("conditioning_channels", c.conditioning_channels);
    r.get("controlnet_conditioning_channel_order", c.controlnet_conditioning_channel_order);
    r.get("conditioning_embedding_out_channels", c.conditioning_embedding_out_channels);
    r.get("global_pool_conditions", c.global_pool_conditions);
    if (c.controlnet_conditioning_channel_order != "rgb" && c.controlnet_conditioning_channel_order != "bgr")
        r.fail("controlnet_conditioning_channel_order", "expected \"rgb\" or \"bgr\"");
    return c;
}

AutoencoderKLConfig parse_vae_config(const json& j, const std::string& file) {
    ConfigReader r(j, file);
    AutoencoderKLConfig c;
    r.get("in_channels", c.in_channels);
    r.get("out_channels", c.out_channels);
    r.get("down_block_types", c.down_block_types);
    r.get("up_block_types", c.up_block_types);
    r.get("block_out_channels", c.block_out_channels);
    if (c.block_out_channels.empty() || c.block_out_channels.size() != c.down_block_types.size())
        r.fail("block_out_channels", "expected one value per down block (" +
                                         std::to_string(c.down_block_types.size()) + ")");
    require_positive(r, "block_out_channels", c.block_out_channels);
    r.get("layers_per_block", c.layers_per_block);
    r.get("act_fn", c.act_fn);
    r.get("latent_channels", c.latent_channels);
    r.get("norm_num_groups", c.norm_num_groups);
    r.get("sample_size", c.sample_size);
    r.get("scaling_factor", c.scaling_factor);
    r.get("shift_factor", c.shift_factor);
    r.get("force_upcast", c.force_upcast);
    r.get("use_quant_conv", c.use_quant_conv);
    r.get("use_post_quant_conv", c.use_post_quant_conv);
    r.get("mid_block_add_attention", c.mid_block_add_attention);
    return c;
}

AutoencoderTinyConfig parse_tiny_vae_config(const json& j, const std::string& file) {
    ConfigReader r(j, file);
    AutoencoderTinyConfig c;
    r.get("latent_channels", c.latent_channels);
    r.get("out_channels", c.out_channels);
    r.get("decoder_block_out_channels", c.decoder_block_out_channels);
    r.get("num_decoder_blocks", c.num_decoder_blocks);
    if (c.decoder_block_out_channels.empty() || c.decoder_block_out_channels.size() != c.num_decoder_blocks.size())
        r.fail("num_decoder_blocks", "expected one value per decoder_block_out_channels entry (" +
                                         std::to_string(c.decoder_block_out_channels.size()) + ")");
    require_positive(r, "decoder_block_out_channels", c.decoder_block_out_channels);
    require_positive(r, "num_decoder_blocks", c.num_decoder_blocks);
    r.get("upsampling_scaling_factor", c.upsampling_scaling_factor);
    if (c.upsampling_scaling_factor < 1) r.fail("upsampling_scaling_factor", "expected a positive integer");
    r.get("act_fn", c.act_fn);
    if (c.act_fn != "relu") r.fail("act_fn", "only \"relu\" is supported (TAESD)");
    r.get("upsample_fn", c.upsample_fn);
    if (c.upsample_fn != "nearest") r.fail("upsample_fn", "only \"nearest\" is supported (TAESD)");
    return c;
}

CLIPTextConfig parse_clip_text_config(const json& j, const std::string& file) {
    // Full CLIPConfig files nest the text part under "text_config".
    const json& t = (j.is_object() && j.contains("text_config") && j["text_config"].is_object()) ? j["text_config"] : j;
    ConfigReader r(t, file);
    CLIPTextConfig c;
    r.get("vocab_size", c.vocab_size);
    r.get("hidden_size", c.hidden_size);
    r.get("intermediate_size", c.intermediate_size);
    r.get("projection_dim", c.projection_dim);
    r.get("num_hidden_layers", c.num_hidden_layers);
    r.get("num_attention_heads", c.num_attention_heads);
    r.get("max_position_embeddings", c.max_position_embeddings);
    r.get("hidden_act", c.hidden_act);
    r.get("layer_norm_eps", c.layer_norm_eps);
    r.get("pad_token_id", c.pad_token_id);
    r.get("bos_token_id", c.bos_token_id);
    r.get("eos_token_id", c.eos_token_id);
    if (c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0)
        r.fail("num_attention_heads", "must divide hidden_size (" + std::to_string(c.hidden_size) + ")");
    return c;
}

CLIPVisionConfig parse_clip_vision_config(const json& j, const std::string& file) {
    const json& v = (j.is_object() && j.contains("vision_config") && j["vision_config"].is_object()) ? j["vision_config"] : j;
    ConfigReader r(v, file);
    CLIPVisionConfig c;
    r.get("hidden_size", c.hidden_size);
    r.get("intermediate_size", c.intermediate_size);
    r.get("projection_dim", c.projection_dim);
    r.get("num_hidden_layers", c.num_hidden_layers);
    r.get("num_attention_heads", c.num_attention_heads);
    r.get("num_channels", c.num_channels);
    r.get("image_size", c.image_size);
    r.get("patch_size", c.patch_size);
    r.get("hidden_act", c.hidden_act);
    r.get("layer_norm_eps", c.layer_norm_eps);
    if (c.patch_size <= 0 || c.image_size % c.patch_size != 0)
        r.fail("patch_size", "must divide image_size (" + std::to_string(c.image_size) + ")");
    if (c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0)
        r.fail("num_attention_heads", "must divide hidden_size (" + std::to_string(c.hidden_size) + ")");
    return c;
}

SchedulerConfig parse_scheduler_config(const json& j, const std::string& file) {
    ConfigReader r(j, file);
    SchedulerConfig c;
    r.get("_class_name", c.class_name);
    r.get("num_train_timesteps", c.num_train_timesteps);
    r.get("beta_start", c.beta_start);
    r.get("beta_end", c.beta_end);
    r.get("beta_schedule", c.beta_schedule);
    r.get("trained_betas", c.trained_betas);
    r.get("prediction_type", c.prediction_type);
    r.get("steps_offset", c.steps_offset);
    r.get("timestep_spacing", c.timestep_spacing);
    r.get("clip_sample", c.clip_sample);
    r.get("set_alpha_to_one", c.set_alpha_to_one);
    r.get("skip_prk_steps", c.skip_prk_steps);
    r.get("rescale_betas_zero_snr", c.rescale_betas_zero_snr);
    if (c.num_train_timesteps <= 0) r.fail("num_train_timesteps", "must be positive");
    c.raw = j.dump();
    return c;
}

template <>
UNet2DConditionModelConfig load_config(const std::filesystem::path& p) {
    return parse_unet_config(read_json_file(p), display_path(p));
}
template <>
ControlNetModelConfig load_config(const std::filesystem::path& p) {
    return parse_controlnet_config(read_json_file(p), display_path(p));
}
template <>
AutoencoderKLConfig load_config(const std::filesystem::path& p) {
    return parse_vae_config(read_json_file(p), display_path(p));
}
template <>
AutoencoderTinyConfig load_config(const std::filesystem::path& p) {
    return parse_tiny_vae_config(read_json_file(p), display_path(p));
}
template <>
CLIPTextConfig load_config(const std::filesystem::path& p) {
    return parse_clip_text_config(read_json_file(p), display_path(p));
}
template <>
CLIPVisionConfig load_config(const std::filesystem::path& p) {
    return parse_clip_vision_config(read_json_file(p), display_path(p));
}
template <>
SchedulerConfig load_config(const std::filesystem::path& p) {
    return parse_scheduler_config(read_json_file(p), display_path(p));
}

}  // namespace ips::io
