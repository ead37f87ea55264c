#include "ips/version.h"

namespace ips {
const char* version_string() { return IPS_VERSION; }
}  // namespace ips
