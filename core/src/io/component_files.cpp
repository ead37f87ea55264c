#include "io/component_files.h"

#include <set>

#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "ips/errors.h"

namespace ips::io {

std::vector<std::filesystem::path> component_weight_files(const std::filesystem::path& folder) {
    static const char* const kStems[] = {"diffusion_pytorch_model", "model", "pytorch_model"};
    static const char* const kSuffixes[] = {".safetensors", ".fp16.safetensors", ".bin", ".fp16.bin"};
    std::error_code ec;
    for (const char* suffix : kSuffixes) {
        for (const char* stem : kStems) {
            const auto single = folder / (std::string(stem) + suffix);
            if (std::filesystem::is_regular_file(single, ec)) return {single};
            const auto index = folder / (std::string(stem) + suffix + ".index.json");
            if (!std::filesystem::is_regular_file(index, ec)) continue;
            const auto json = read_json_file(index);
            if (!json.is_object() || !json.contains("weight_map") || !json["weight_map"].is_object())
                throw ModelLoadError(display_path(index) + ": expected a \"weight_map\" object of tensor -> shard file");
            std::set<std::string> shards;
            for (const auto& [tensor, shard] : json["weight_map"].items()) {
                if (!shard.is_string() || shard.get<std::string>().find('/') != std::string::npos)
                    throw ModelLoadError(display_path(index) + ": shard of '" + tensor + "' is not a file name");
                shards.insert(shard.get<std::string>());
            }
            std::vector<std::filesystem::path> files;
            for (const auto& shard : shards) files.push_back(folder / shard);
            return files;
        }
    }
    return {};
}

}  // namespace ips::io
