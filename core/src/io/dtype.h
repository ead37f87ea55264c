#pragma once
// Element types of the weight formats, independent of torch so file parsing stays torch-free.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ips::io {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

std::size_t dtype_size(DType dtype);
// The safetensors spelling ("F32", "BF16", ...).
std::string_view dtype_name(DType dtype);
std::optional<DType> dtype_from_name(std::string_view name);

}  // namespace ips::io
