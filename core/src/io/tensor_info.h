#pragma once
// What a weights file holds, without the data: enough to recognise a model from its tensor names.
#include <cstdint>
#include <string>
#include <vector>

namespace ips::io {

struct TensorInfo {
    std::string name;
    std::string dtype;  // safetensors spelling: "F32", "F16", ...
    std::vector<std::int64_t> shape;
};

}  // namespace ips::io
