#pragma once

namespace ips {
// The product version, as in CMakeLists.txt's project().
const char* version_string();
}  // namespace ips
