#include "config_root.h"

#include <system_error>

namespace ipsapp {
namespace {

bool has_configs(const std::filesystem::path& root) {
    std::error_code ec;
    return std::filesystem::exists(root / "unet" / "config.json", ec);
}

}  // namespace

std::filesystem::path default_config_root() {
    // An installed executable (bin/) finds its own share/ folder first, wherever the package put it; a
    // build-tree executable finds the source tree's configs.
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const auto beside = exe.parent_path().parent_path() / "share" / "ipstudio" / "models" / "sd15";
        if (has_configs(beside)) return beside;
    }
    for (const char* candidate : {IPS_SOURCE_MODELS "/sd15", IPS_INSTALLED_MODELS "/sd15"})
        if (has_configs(candidate)) return candidate;
    return IPS_SOURCE_MODELS "/sd15";
}

}  // namespace ipsapp
