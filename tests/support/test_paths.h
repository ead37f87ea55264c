#pragma once
// Locations of the test data (tests/data, a copy of the shared fixtures) and scratch folders.
#include <QTemporaryDir>
#include <filesystem>
#include <fstream>
#include <string>

#include "ips/errors.h"

namespace ipstest {

inline std::filesystem::path dataPath(const std::string& relative) {
    return std::filesystem::path(IPS_TEST_DATA) / relative;
}

inline void writeBytes(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A copy of the tiny tokenizer in `folder` that pads with "!" (id 0) instead of <|endoftext|>, as SD2's does.
inline void writeSd2Tokenizer(const std::filesystem::path& folder) {
    for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json"})
        std::filesystem::copy_file(dataPath("tiny-sd15/tokenizer") / f, folder / f);
    writeBytes(folder / "special_tokens_map.json", R"({"pad_token": "!"})");
}

// The message of the ModelLoadError `f` throws, or "" when it throws none.
template <typename F>
std::string loadErrorOf(F&& f) {
    try {
        f();
    } catch (const ips::ModelLoadError& e) {
        return e.what();
    }
    return "";
}

// The message of the InputError `f` throws, or "" when it throws none.
template <typename F>
std::string inputErrorOf(F&& f) {
    try {
        f();
    } catch (const ips::InputError& e) {
        return e.what();
    }
    return "";
}

inline std::string readBytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace ipstest
