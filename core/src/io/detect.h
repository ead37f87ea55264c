#pragma once
// Recognises a model from the names and shapes of its tensors alone.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/tensor_info.h"
#include "ips/model_info.h"

namespace ips::io {

struct Detection {
    ModelKind kind = ModelKind::Unknown;
    std::string variant;
    std::string base_architecture;
    std::map<std::string, std::int64_t> dimensions;
    std::vector<std::string> notes;
};

Detection detect_from_tensors(const std::vector<TensorInfo>& tensors);

// "sd1.x" for 768, "sd2.x" for 1024, "sdxl" for 2048, else "custom (cross_attention_dim N)".
std::string base_from_cross_attention_dim(std::int64_t dim);

}  // namespace ips::io
