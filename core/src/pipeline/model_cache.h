#pragma once
// The networks a generation needs, loaded once and kept until a path or the precision changes.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipadapter/image_embedding.h"
#include "ipadapter/ip_adapter_model.h"
#include "ips/clip_tokenizer.h"
#include "lora/lora_model.h"
#include "models/model_loader.h"
#include "text/textual_inversion.h"

namespace ips::pipeline {

struct BaseModel {
    std::string key;  // path + precision
    nn::UNet2DConditionModel unet{nullptr};  // in the generation precision
    nn::AutoencoderKL vae{nullptr};          // float32: encodes, and decodes where the fast copy fails
    // bfloat16 generations only: a bfloat16 copy of the VAE for decoding (about 2x faster than float32 on
    // AVX-512-BF16). Its output is checked; a non-finite decode is redone by `vae`.
    nn::AutoencoderKL fast_decoder_vae{nullptr};
    nn::CLIPTextModel text_encoder{nullptr}; // in the generation precision, as diffusers' pipeline.to(dtype)
    std::optional<ClipTokenizer> tokenizer;
    nlohmann::json scheduler_config;
    // The LoRAs merged into unet and text_encoder (their originals kept): set per request by the engine.
    lora::LoraState loras;
    // The textual-inversion embeddings added to tokenizer and text_encoder: set per request by the engine.
    text::TextualInversionState embeddings;
};

// "<path>|<dtype>": identifies a loaded network.
std::string model_key(const std::filesystem::path& path, at::ScalarType dtype);

// Gives a bfloat16 base its fast_decoder_vae (a converted copy of its float32 VAE); other precisions none.
void add_fast_decoder(BaseModel& base, at::ScalarType dtype);

class ModelCache {
public:
    explicit ModelCache(std::filesystem::path config_root) : config_root_(std::move(config_root)) {}

    // A diffusers pipeline folder, or a single-file checkpoint with configs from config_root.
    // `vae`, when set, replaces the model's own VAE.
    BaseModel& base(const std::filesystem::path& model, at::ScalarType dtype, const std::filesystem::path& vae = {});
    // Whether base(model, dtype, vae) would return without loading.
    bool has_base(const std::filesystem::path& model, at::ScalarType dtype, const std::filesystem::path& vae = {}) const;
    // Frees the base model and what was built on it (adapters, ControlNets, image encoders), as loading
    // another base does first.
    void drop_base();
    ipadapter::IPAdapterModel adapter(const std::filesystem::path& file, at::ScalarType dtype);
    ipadapter::ImageEncoder& encoder(const std::filesystem::path& folder, at::ScalarType dtype);
    // The encoder's configuration without loading its weights (from the loaded one where there is one).
    io::CLIPVisionConfig encoder_config(const std::filesystem::path& folder, at::ScalarType dtype);
    void release_encoders();
    std::size_t encoders_loaded() const { return encoders_.size(); }
    int encoder_loads() const { return encoder_loads_; }  // image encoders loaded from their files so far
    // At most this many ControlNets stay loaded (0.7 GB each in bfloat16 at SD1.5 size); the one used longest
    // ago goes first. A request holds its own references, so it may use more at once.
    static constexpr std::size_t kMaxControlNets = 3;
    // The keys (model_key) of the loaded ControlNets, the one used longest ago first.
    const std::vector<std::string>& controlnets_loaded() const { return controlnet_use_; }
    nn::ControlNetModel controlnet(const std::filesystem::path& folder, at::ScalarType dtype);
    nn::TinyDecoder preview_decoder(const std::filesystem::path& path, at::ScalarType dtype);
    void clear();

    // Networks built elsewhere (the benchmark's random-weight SD1.5), served as if loaded from `path`.
    void install_base(std::unique_ptr<BaseModel> base) { base_ = std::move(base); }
    void install_encoder(const std::filesystem::path& path, at::ScalarType dtype, std::unique_ptr<ipadapter::ImageEncoder> e) {
        encoders_[model_key(path, dtype)] = std::move(e);
    }
    void install_preview_decoder(const std::filesystem::path& path, at::ScalarType dtype, nn::TinyDecoder decoder) {
        preview_ = std::move(decoder);
        preview_key_ = model_key(path, dtype);
    }

private:
    std::filesystem::path config_root_;
    std::unique_ptr<BaseModel> base_;
    std::map<std::string, ipadapter::IPAdapterModel> adapters_;
    std::map<std::string, std::unique_ptr<ipadapter::ImageEncoder>> encoders_;
    int encoder_loads_ = 0;
    std::map<std::string, nn::ControlNetModel> controlnets_;
    std::vector<std::string> controlnet_use_;  // keys of controlnets_, least recently used first
    std::string preview_key_;  // one preview decoder at a time
    nn::TinyDecoder preview_{nullptr};
};

// bfloat16 weights on CPU run fastest with channels-last convolutions.
nn::LoadTarget target_for(at::ScalarType dtype);

}  // namespace ips::pipeline
