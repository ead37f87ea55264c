#pragma once
// The CLI's way into the result library the window uses (PNG + SQLite index, ui/src/gallery): where it is
// and how a result goes in. Kept apart so the other commands never touch Qt.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ips/generation.h"

namespace ipscli {

class Args;

// --library DIR, or --to-library for the window's own library (its "Library folder" setting, else the
// default under the data folder). Nothing when neither is given.
std::optional<std::filesystem::path> library_folder(const Args& args);

// Writes each image into the library; returns the PNG files written. Throws ips::InputError naming the
// library when it cannot be opened or written.
std::vector<std::filesystem::path> write_to_library(const std::filesystem::path& library, const ips::GenerationRequest& request,
                                                    const std::vector<ips::Image>& images, std::uint64_t seed);

// ipstudio-cli import FOLDER [--library DIR | --to-library]
int run_import(const std::vector<std::string>& args);

}  // namespace ipscli
