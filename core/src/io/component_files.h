#pragma once
// Where a diffusers / transformers component folder keeps its weights.
#include <filesystem>
#include <vector>

namespace ips::io {

// The weights files of a component folder, in diffusers' order of preference: safetensors over .bin,
// full precision over the .fp16 variant; a sharded checkpoint returns every shard named by its
// *.index.json. Empty when the folder has none.
std::vector<std::filesystem::path> component_weight_files(const std::filesystem::path& folder);

}  // namespace ips::io
