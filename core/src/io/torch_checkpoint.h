#pragma once
// PyTorch torch.save zip archives (.bin, .pt, .ckpt), read with LibTorch's own unpickler.
#include <filesystem>
#include <map>
#include <string>

#include <ATen/core/Tensor.h>

namespace ips::io {

// Nested dicts flatten to dotted names ({"image_proj": {"proj.weight": t}} -> "image_proj.proj.weight");
// a top-level "state_dict" wrapper (common in .ckpt) is unwrapped; non-tensor values are skipped.
// Throws ModelLoadError naming the file when the archive is corrupt or holds no tensors.
std::map<std::string, at::Tensor> load_torch_checkpoint(const std::filesystem::path& path);

}  // namespace ips::io
