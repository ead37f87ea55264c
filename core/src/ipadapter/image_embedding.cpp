#include "ipadapter/image_embedding.h"

#include <cstdio>

#include <ATen/ATen.h>

#include "io/json_file.h"
#include "io/weights.h"
#include "ips/errors.h"
#include "models/model_loader.h"

namespace ips::ipadapter {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormat = "ipstudio.image-embedding";

std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t h = 1469598103934665603ULL) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

}  // namespace

ImageEncoder ImageEncoder::load(const fs::path& folder, const nn::LoadTarget& target) {
    auto model = models::load_image_encoder(folder, target);
    image::ClipImageProcessorConfig preprocess;
    std::error_code ec;
    for (const fs::path& candidate : {folder / "preprocessor_config.json", folder.parent_path() / "feature_extractor" / "preprocessor_config.json"}) {
        if (fs::is_regular_file(candidate, ec)) {
            preprocess = image::load_clip_image_processor_config(candidate);
            break;
        }
    }
    const std::string dtype = c10::toString(target.dtype);
    return ImageEncoder(model, preprocess, io::display_path(fs::weakly_canonical(folder, ec)) + "|" + dtype);
}

ImageEncoder::ImageEncoder(nn::CLIPVisionModelWithProjection model, image::ClipImageProcessorConfig preprocess, std::string id)
    : model_(std::move(model)), preprocess_(preprocess), id_(std::move(id)) {}

ImageEmbedding ImageEncoder::encode_pixels(const at::Tensor& pixel_values) {
    c10::InferenceMode guard;
    const auto dtype = model_->visual_projection->weight.scalar_type();
    const auto out = model_->forward(pixel_values.to(dtype));
    return {out.image_embeds.to(at::kFloat).clone(), out.hidden_states[out.hidden_states.size() - 2].to(at::kFloat).clone()};
}

ImageEmbedding ImageEncoder::encode(const Image& rgb, CropMode crop) {
    return encode_pixels(image::clip_pixel_values(rgb, preprocess_, crop));
}

ImageEmbedding ImageEncoder::encode_zero_image() {
    return encode_pixels(at::zeros({1, 3, preprocess_.crop_height, preprocess_.crop_width}));
}

std::string ImageEmbeddingCache::key(const Image& image, const std::string& encoder_id, CropMode crop) {
    const int header[3] = {image.width, image.height, image.channels};
    std::uint64_t h = fnv1a(header, sizeof header);
    h = fnv1a(image.pixels.data(), image.pixels.size(), h);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return std::string(hex) + "|" + encoder_id + "|" + std::string(crop_mode_name(crop));
}

std::optional<ImageEmbedding> ImageEmbeddingCache::find(const std::string& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    recency_.splice(recency_.begin(), recency_, it->second.second);
    return it->second.first;
}

void ImageEmbeddingCache::insert(const std::string& key, const ImageEmbedding& embedding) {
    if (auto it = entries_.find(key); it != entries_.end()) {
        it->second.first = embedding;
        recency_.splice(recency_.begin(), recency_, it->second.second);
        return;
    }
    recency_.push_front(key);
    entries_.emplace(key, std::make_pair(embedding, recency_.begin()));
    while (entries_.size() > capacity_) {
        entries_.erase(recency_.back());
        recency_.pop_back();
    }
}

ImageEmbedding ImageEmbeddingCache::encode(ImageEncoder& encoder, const Image& image, CropMode crop) {
    return encode(encoder.id(), [&]() -> ImageEncoder& { return encoder; }, image, crop);
}

ImageEmbedding ImageEmbeddingCache::encode(const std::string& encoder_id, const std::function<ImageEncoder&()>& encoder,
                                           const Image& image, CropMode crop) {
    const std::string k = key(image, encoder_id, crop);
    if (auto hit = find(k)) return *hit;
    ++misses_;
    ImageEmbedding embedding = encoder().encode(image, crop);
    insert(k, embedding);
    return embedding;
}

void save_image_embedding(const fs::path& file, const ImageEmbedding& e, const std::map<std::string, std::string>& metadata,
                          bool overwrite) {
    auto meta = metadata;
    meta["format"] = kFormat;
    meta["format_version"] = "1";
    io::save_safetensors(file, {{"image_embeds", e.image_embeds.to(at::kFloat)}, {"hidden_states", e.hidden_states.to(at::kFloat)}},
                         meta, overwrite ? io::ExistingFile::Replace : io::ExistingFile::Keep);
}

ImageEmbedding load_image_embedding(const fs::path& file, std::map<std::string, std::string>* metadata) {
    const std::string name = io::display_path(file);
    io::Weights w = io::load_user_tensors(file);
    auto meta = w.metadata.find("format");
    if (meta == w.metadata.end() || meta->second != kFormat)
        throw InputError(name + ": not an image embedding file (expected safetensors written by IP Studio, metadata format=" +
                         std::string(kFormat) + ")");
    auto get = [&](const std::string& key, std::int64_t rank) {
        auto it = w.tensors.find(key);
        if (it == w.tensors.end()) throw InputError(name + ": tensor '" + key + "' is missing");
        const at::Tensor& t = it->second;
        if (t.dim() != rank || t.size(0) != 1)
            throw InputError(name + ": tensor '" + key + "' has the wrong shape (expected rank " + std::to_string(rank) + ", batch 1)");
        const at::Tensor f = t.to(at::kFloat).clone();
        if (!at::isfinite(f).all().item<bool>()) throw InputError(name + ": tensor '" + key + "' holds NaN or infinity");
        return f;
    };
    ImageEmbedding e{get("image_embeds", 2), get("hidden_states", 3)};
    if (metadata) *metadata = w.metadata;
    return e;
}

}  // namespace ips::ipadapter
