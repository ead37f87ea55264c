#include "pipeline/model_cache.h"

#include <malloc.h>

#include "io/json_file.h"
#include "ips/errors.h"

namespace ips::pipeline {
namespace {

namespace fs = std::filesystem;

// Converts a loaded module's weights (single-file checkpoints load every network at once).
void convert(torch::nn::Module& module, const nn::LoadTarget& target) {
    c10::InferenceMode off(false);
    torch::NoGradGuard no_grad;
    for (auto& p : module.parameters()) {
        at::Tensor t = p.to(target.dtype);
        if (target.channels_last && t.dim() == 4) t = t.contiguous(at::MemoryFormat::ChannelsLast);
        p.set_data(t);
    }
}

// A copy of `vae` converted to `target`, built from its weights (no second read of the model file).
nn::AutoencoderKL converted_copy(const nn::AutoencoderKL& vae, const nn::LoadTarget& target) {
    c10::InferenceMode off(false);
    torch::NoGradGuard no_grad;
    nn::AutoencoderKL copy(vae->config);
    const auto source = vae->named_parameters();
    for (auto& p : copy->named_parameters()) p.value().set_data(source[p.key()].detach().clone());
    const auto source_buffers = vae->named_buffers();
    for (auto& b : copy->named_buffers()) b.value().set_data(source_buffers[b.key()].detach().clone());
    convert(*copy, target);
    copy->eval();
    return copy;
}

}  // namespace

std::string model_key(const fs::path& path, at::ScalarType dtype) {
    std::error_code ec;
    return io::display_path(fs::weakly_canonical(path, ec)) + "|" + c10::toString(dtype);
}

void add_fast_decoder(BaseModel& base, at::ScalarType dtype) {
    // Channels-last: its GroupNorms take the fused kernel (LibTorch 1.13's own bfloat16 channels-last
    // GroupNorm is what made this layout wrong before; see nn::apply_group_norm).
    base.fast_decoder_vae = dtype == at::kBFloat16 ? converted_copy(base.vae, target_for(dtype)) : nullptr;
}

nn::LoadTarget target_for(at::ScalarType dtype) { return {dtype, at::kCPU, dtype == at::kBFloat16}; }

namespace {
std::string base_key(const fs::path& model, at::ScalarType dtype, const fs::path& vae) {
    std::string key = model_key(model, dtype);
    if (!vae.empty()) key += "|vae " + model_key(vae, at::kFloat);
    return key;
}
}  // namespace

bool ModelCache::has_base(const fs::path& model, at::ScalarType dtype, const fs::path& vae) const {
    return base_ && base_->key == base_key(model, dtype, vae);
}

void ModelCache::drop_base() {
    base_.reset();
    adapters_.clear();  // adapters are built against the UNet's layers
    encoders_.clear();
    controlnets_.clear();
    controlnet_use_.clear();
    ::malloc_trim(0);
}

BaseModel& ModelCache::base(const fs::path& model, at::ScalarType dtype, const fs::path& vae) {
    const std::string key = base_key(model, dtype, vae);
    if (base_ && base_->key == key) return *base_;
    // Free the previous model (and what was loaded for it) before loading the next.
    drop_base();
    auto b = std::make_unique<BaseModel>();
    b->key = key;
    const nn::LoadTarget fp32 = target_for(at::kFloat);
    std::error_code ec;
    if (fs::is_directory(model, ec)) {
        if (!fs::is_regular_file(model / "model_index.json", ec))
            throw ModelLoadError(io::display_path(model) + ": not a diffusers pipeline folder (model_index.json is missing)");
        b->unet = models::load_unet(model / "unet", target_for(dtype));
        b->vae = models::load_vae(model / "vae", fp32);
        b->text_encoder = models::load_text_encoder(model / "text_encoder", target_for(dtype));
        b->tokenizer.emplace(ClipTokenizer::from_folder(model / "tokenizer"));
        b->scheduler_config = io::read_python_json_file(model / "scheduler" / "scheduler_config.json");
    } else {
        auto nets = models::load_single_file(model, config_root_, fp32);
        b->unet = nets.unet;
        b->vae = nets.vae;
        b->text_encoder = nets.text_encoder;
        if (dtype != at::kFloat) {
            convert(*b->unet, target_for(dtype));
            convert(*b->text_encoder, target_for(dtype));
        }
        b->tokenizer.emplace(ClipTokenizer::from_folder(config_root_ / "tokenizer"));
        b->scheduler_config = io::read_python_json_file(config_root_ / "scheduler" / "scheduler_config.json");
    }
    if (!vae.empty()) b->vae = models::load_separate_vae(vae, config_root_, fp32);
    add_fast_decoder(*b, dtype);
    base_ = std::move(b);
    return *base_;
}

ipadapter::IPAdapterModel ModelCache::adapter(const fs::path& file, at::ScalarType dtype) {
    if (!base_) throw Error("internal: adapter requested before the base model");
    const std::string key = model_key(file, dtype);
    auto it = adapters_.find(key);
    if (it != adapters_.end()) return it->second;
    auto a = ipadapter::load_ip_adapter(file, *base_->unet, target_for(dtype));
    adapters_.emplace(key, a);
    return a;
}

ipadapter::ImageEncoder& ModelCache::encoder(const fs::path& folder, at::ScalarType dtype) {
    const std::string key = model_key(folder, dtype);
    auto it = encoders_.find(key);
    if (it != encoders_.end()) return *it->second;
    auto e = std::make_unique<ipadapter::ImageEncoder>(ipadapter::ImageEncoder::load(folder, target_for(dtype)));
    ++encoder_loads_;
    return *encoders_.emplace(key, std::move(e)).first->second;
}

io::CLIPVisionConfig ModelCache::encoder_config(const fs::path& folder, at::ScalarType dtype) {
    auto it = encoders_.find(model_key(folder, dtype));
    if (it != encoders_.end()) return it->second->config();
    std::error_code ec;
    // Loading is what explains a folder that is not an image encoder.
    if (!fs::is_regular_file(folder / "config.json", ec)) return encoder(folder, dtype).config();
    return io::load_config<io::CLIPVisionConfig>(folder / "config.json");
}

nn::ControlNetModel ModelCache::controlnet(const fs::path& folder, at::ScalarType dtype) {
    const std::string key = model_key(folder, dtype);
    std::erase(controlnet_use_, key);
    auto it = controlnets_.find(key);
    if (it != controlnets_.end()) {
        controlnet_use_.push_back(key);
        return it->second;
    }
    auto c = models::load_controlnet(folder, target_for(dtype));
    while (controlnets_.size() >= kMaxControlNets && !controlnet_use_.empty()) {
        controlnets_.erase(controlnet_use_.front());
        controlnet_use_.erase(controlnet_use_.begin());
    }
    controlnets_.emplace(key, c);
    controlnet_use_.push_back(key);
    return c;
}

nn::TinyDecoder ModelCache::preview_decoder(const fs::path& path, at::ScalarType dtype) {
    const std::string key = model_key(path, dtype);
    if (preview_ && preview_key_ == key) return preview_;
    preview_ = nullptr;  // the previous one goes before the next loads
    preview_ = models::load_preview_decoder(path, target_for(dtype));
    preview_key_ = key;
    return preview_;
}

void ModelCache::release_encoders() {
    encoders_.clear();
    // Their memory (1.3 GB for ViT-H) back to the system before denoising: malloc keeps what is freed
    // (configure_runtime), and a cold SD1.5 generation from files then peaked in the VAE decode above 4 GB.
    ::malloc_trim(0);
}

void ModelCache::clear() {
    preview_ = nullptr;
    preview_key_.clear();
    drop_base();
}

}  // namespace ips::pipeline
