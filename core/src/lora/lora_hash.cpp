#include "lora/lora_hash.h"

#include <cstdint>
#include <fstream>
#include <map>
#include <mutex>

#include "io/sha256.h"

namespace ips::lora {
namespace fs = std::filesystem;
namespace {

std::string compute_short_hash(const fs::path& file) {
    std::uint64_t offset = 0;
    if (file.extension() == ".safetensors") {
        std::ifstream in(file, std::ios::binary);
        unsigned char size[8] = {};
        if (!in.read(reinterpret_cast<char*>(size), 8)) return {};
        for (int i = 7; i >= 0; --i) offset = offset << 8 | size[i];
        offset += 8;
    }
    return io::sha256_file(file, offset).substr(0, 12);
}

}  // namespace

std::string lora_short_hash(const fs::path& file) {
    static std::mutex mutex;
    static std::map<std::string, std::string> known;  // "path|size|mtime" -> hash
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (ec) return {};
    const auto stamp = fs::last_write_time(file, ec).time_since_epoch().count();
    const std::string key = file.string() + "|" + std::to_string(size) + "|" + std::to_string(stamp);
    {
        std::lock_guard lock(mutex);
        if (auto it = known.find(key); it != known.end()) return it->second;
    }
    std::string hash;
    try {
        hash = compute_short_hash(file);
    } catch (const std::exception&) {
        return {};
    }
    std::lock_guard lock(mutex);
    known[key] = hash;
    return hash;
}

}  // namespace ips::lora
