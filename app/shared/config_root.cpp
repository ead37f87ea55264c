#include "config_root.h"

namespace ipsapp {

std::filesystem::path default_config_root() {
    for (const char* candidate : {IPS_SOURCE_MODELS "/sd15", IPS_INSTALLED_MODELS "/sd15"})
        if (std::filesystem::exists(std::filesystem::path(candidate) / "unet" / "config.json")) return candidate;
    return IPS_SOURCE_MODELS "/sd15";
}

}  // namespace ipsapp
