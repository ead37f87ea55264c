#pragma once
// What the image encoder says about a reference picture, computed once and reused: the embedding cache
// (keyed by picture content, encoder and crop mode, so a new prompt, seed or scale never re-encodes)
// and embedding files (a reference reusable without the encoder).
#include <cstddef>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>

#include "image/clip_preprocess.h"
#include "ips/image.h"
#include "ips/image_prompt.h"
#include "nn/clip_models.h"
#include "nn/state_dict.h"

namespace ips::ipadapter {

// float32, batch 1. Base adapters use image_embeds; plus/full-face the penultimate hidden states.
struct ImageEmbedding {
    at::Tensor image_embeds;   // [1, projection_dim]
    at::Tensor hidden_states;  // [1, tokens, hidden_size] (hidden_states[-2])
};

// A CLIP vision encoder with its preprocessing.
class ImageEncoder {
public:
    // `folder` is a transformers CLIPVisionModelWithProjection folder; the preprocessing comes from its
    // preprocessor_config.json, else a sibling feature_extractor/ folder's, else CLIP's defaults.
    static ImageEncoder load(const std::filesystem::path& folder, const nn::LoadTarget& target);
    ImageEncoder(nn::CLIPVisionModelWithProjection model, image::ClipImageProcessorConfig preprocess, std::string id);

    ImageEmbedding encode(const Image& rgb, CropMode crop);
    ImageEmbedding encode_pixels(const at::Tensor& pixel_values);
    // The encoder on all-zero (normalised) pixels: the unconditional input of plus/full-face adapters.
    ImageEmbedding encode_zero_image();

    const std::string& id() const { return id_; }  // identifies the weights (path) for cache keys
    const io::CLIPVisionConfig& config() const { return model_->config; }
    const image::ClipImageProcessorConfig& preprocess() const { return preprocess_; }

private:
    nn::CLIPVisionModelWithProjection model_;
    image::ClipImageProcessorConfig preprocess_;
    std::string id_;
};

// Least-recently-used map of embeddings.
class ImageEmbeddingCache {
public:
    explicit ImageEmbeddingCache(std::size_t capacity = 64) : capacity_(capacity) {}
    ImageEmbeddingCache(const ImageEmbeddingCache&) = delete;  // entries point into recency_
    ImageEmbeddingCache& operator=(const ImageEmbeddingCache&) = delete;
    static std::string key(const Image& image, const std::string& encoder_id, CropMode crop);

    std::optional<ImageEmbedding> find(const std::string& key);
    void insert(const std::string& key, const ImageEmbedding& embedding);
    // Encodes through the cache.
    ImageEmbedding encode(ImageEncoder& encoder, const Image& image, CropMode crop);
    // The same, with the encoder asked for only on a miss (it may have to be loaded first).
    ImageEmbedding encode(const std::string& encoder_id, const std::function<ImageEncoder&()>& encoder, const Image& image,
                          CropMode crop);
    std::size_t size() const { return entries_.size(); }
    void clear() {
        entries_.clear();
        recency_.clear();
    }
    std::size_t misses() const { return misses_; }

private:
    std::size_t capacity_;
    std::size_t misses_ = 0;
    std::list<std::string> recency_;  // most recent first
    std::map<std::string, std::pair<ImageEmbedding, std::list<std::string>::iterator>> entries_;
};

// Embedding files: safetensors with image_embeds and hidden_states, plus metadata naming the format,
// the encoder and the crop mode. Written atomically.
// Never replaces an existing file unless `overwrite` (checked atomically with the write).
void save_image_embedding(const std::filesystem::path& file, const ImageEmbedding& embedding,
                          const std::map<std::string, std::string>& metadata, bool overwrite = true);
// Throws InputError naming the file when it is not an embedding file or its tensors are malformed.
ImageEmbedding load_image_embedding(const std::filesystem::path& file, std::map<std::string, std::string>* metadata = nullptr);

}  // namespace ips::ipadapter
