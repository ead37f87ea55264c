#pragma once
// Loading weight files of any supported format into named tensors: safetensors (memory-mapped,
// zero-copy) and PyTorch torch.save zip archives (.bin/.pt/.ckpt). The format is recognised from
// the file's first bytes, never from its name.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "io/tensor_info.h"

namespace ips::io {

enum class WeightsFormat { Safetensors, TorchZip };

struct Weights {
    std::filesystem::path path;
    WeightsFormat format = WeightsFormat::Safetensors;
    std::map<std::string, at::Tensor> tensors;  // dotted names; safetensors tensors view the mapping
    std::map<std::string, std::string> metadata;
};

// Reads the format from the first bytes; throws ModelLoadError naming the file and what it found
// (an image, a legacy pickle, a directory, ...) when it is not a supported weights file.
WeightsFormat sniff_weights_format(const std::filesystem::path& path);

Weights load_weights(const std::filesystem::path& path);

// load_weights for files the user hands in as data (latents, image embeddings): failures are InputErrors.
Weights load_user_tensors(const std::filesystem::path& path);

// A tensor viewing the mapped bytes without copying (copied only when misaligned for its dtype).
at::Tensor tensor_from_entry(const SafetensorsFile& file, const TensorEntry& entry);

// Writes contiguous CPU copies of the tensors as safetensors, atomically.
// With `existing` Keep, an existing file is never replaced (InputError "already exists").
void save_safetensors(const std::filesystem::path& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {}, ExistingFile existing = ExistingFile::Replace);

// Names, dtypes and shapes of the tensors in a weights file: header only for safetensors.
std::vector<TensorInfo> read_tensor_infos(const std::filesystem::path& path);

}  // namespace ips::io
