#pragma once
// The short hash A1111 prints for a LoRA ("Lora hashes" in the PNG parameters, also how Civitai finds the
// file): the first 12 hex digits of SHA-256 over a .safetensors file's tensor data (the bytes after its
// JSON header: sd-webui-additional-networks' "addnet" hash, unchanged when only the metadata changes), or
// over the whole file for other formats.
#include <filesystem>
#include <string>

namespace ips::lora {

// Empty when the file cannot be read. Remembered per path, size and modification time, so the engine's
// call (on the worker thread, when it reads the LoRA anyway) makes later ones free.
std::string lora_short_hash(const std::filesystem::path& file);

}  // namespace ips::lora
