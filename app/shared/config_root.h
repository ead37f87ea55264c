#pragma once
// Where the SD1.5 configs and tokenizer that single-file checkpoints need are found: the source tree's
// models/sd15 when run from a build folder, else the installed copy.
#include <filesystem>

namespace ipsapp {

std::filesystem::path default_config_root();

}  // namespace ipsapp
