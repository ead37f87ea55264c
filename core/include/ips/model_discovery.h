#pragma once
// Finding models already on disk, used in place: the Hugging Face hub cache and the model folders of
// other tools (ComfyUI, AUTOMATIC1111, InvokeAI, or any folder). Every candidate is classified from its
// tensor names (headers only); broken or unrecognised files are listed with the reason, never thrown.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ips/model_info.h"

namespace ips {

struct DiscoveredModel {
    std::filesystem::path path;  // a weights file, or a diffusers folder (pipeline or one component)
    std::string source;          // "Hugging Face cache", "ComfyUI", "AUTOMATIC1111", "InvokeAI", "folder"
    std::string repo;            // hub cache: "ORG/NAME"; empty elsewhere
    std::string revision;        // hub cache: the snapshot's commit
    ModelKind kind = ModelKind::Unknown;
    std::string variant;            // as ModelInfo::variant ("base", "plus", ...)
    std::string base_architecture;  // "sd1.x", "sdxl", ...
    std::uint64_t size_bytes = 0;   // the file, or every file below the folder
    std::string problem;            // why it cannot be used ("" when usable)
    std::string note;               // a limitation worth showing (e.g. an optional component missing)
};

// The hub cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub (the rules huggingface_hub itself follows).
std::filesystem::path huggingface_hub_cache();

// Every model in a hub cache (models--ORG--NAME/snapshots/REVISION/...). A missing cache gives none.
std::vector<DiscoveredModel> discover_hub_cache(const std::filesystem::path& hub_cache);

// Which tool a folder belongs to: "ComfyUI", "AUTOMATIC1111", "InvokeAI" or "folder".
std::string installation_kind(const std::filesystem::path& root);

// Every model below a folder the user points at: an installation's root (its model folders are found)
// or any folder of models. Throws InputError only when `root` is not a readable folder.
std::vector<DiscoveredModel> discover_model_folder(const std::filesystem::path& root);

}  // namespace ips
