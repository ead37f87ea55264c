#pragma once
// The per-instruction-set implementations behind flash_attention.h (same signatures, one namespace each).
#include "nn/kernels/flash_attention.h"

namespace ips::nn::kernels {
namespace portable {
std::size_t packed_kv_bytes(const AttentionShape& shape);
void pack_kv(const AttentionShape& shape, const AttentionHead& head, void* packed);
void attend_rows(const AttentionShape& shape, const AttentionHead& head, const void* packed, std::int64_t row_begin,
                 std::int64_t row_end);
}  // namespace portable
namespace avx512_bf16 {
std::size_t packed_kv_bytes(const AttentionShape& shape);
void pack_kv(const AttentionShape& shape, const AttentionHead& head, void* packed);
void attend_rows(const AttentionShape& shape, const AttentionHead& head, const void* packed, std::int64_t row_begin,
                 std::int64_t row_end);
}  // namespace avx512_bf16
namespace amx_bf16 {
std::size_t packed_kv_bytes(const AttentionShape& shape);
void pack_kv(const AttentionShape& shape, const AttentionHead& head, void* packed);
void attend_rows(const AttentionShape& shape, const AttentionHead& head, const void* packed, std::int64_t row_begin,
                 std::int64_t row_end);
}  // namespace amx_bf16
}  // namespace ips::nn::kernels
