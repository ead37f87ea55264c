#pragma once
// The preset / request format: versioned JSON ("schema": 1) with diffusers' call names; paths
// relative to the JSON file.
#include <filesystem>
#include <string>

#include "ips/generation.h"

namespace ips {

inline constexpr int kRequestSchema = 1;

// Throws InputError naming `source` and the field when the JSON is malformed, of a newer schema, or
// has values of the wrong type. Unknown keys are errors too (a typo must not be silently ignored).
GenerationRequest parse_request_json(const std::string& text, const std::filesystem::path& base_dir, const std::string& source);
GenerationRequest read_request_file(const std::filesystem::path& file);

// Paths inside `base_dir` are written relative to it. Images held only in memory cannot be written:
// InputError.
std::string request_to_json(const GenerationRequest& request, const std::filesystem::path& base_dir);

// Writes the request (paths relative to the file's folder), atomically; an existing file is kept
// (InputError "already exists") unless `overwrite`.
void write_request_file(const std::filesystem::path& file, const GenerationRequest& request, bool overwrite = true);

// The A1111 "parameters" text: prompt, "Negative prompt: ...", then "Steps: 30, Sampler: ..., ...".
std::string a1111_parameters(const GenerationRequest& request, std::uint64_t seed);

}  // namespace ips
