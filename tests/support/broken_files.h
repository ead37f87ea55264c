#pragma once
// A corpus of broken weights files, each with the words its error message must contain.
#include <filesystem>
#include <string>
#include <vector>

namespace ipstest {

struct BrokenFile {
    std::string what;                      // test row name
    std::filesystem::path path;            // written by makeBrokenFiles
    std::vector<std::string> must_mention;  // fragments of the expected error message
};

// Writes every broken file into `folder`, derived from valid fixtures where that makes the damage realistic.
std::vector<BrokenFile> makeBrokenFiles(const std::filesystem::path& folder);

// A minimal valid safetensors file with two F32 tensors "a" [2] and "b" [2, 2] (header built by hand).
std::string validSafetensors(const std::string& header_json, std::size_t data_bytes);

}  // namespace ipstest
