#pragma once
// Scalar building blocks of the portable kernels, written so that loops over them vectorise (no
// branches, no library calls): bfloat16 <-> float32 and 2^x for x <= 0.
#include <algorithm>
#include <cstdint>
#include <cstring>

namespace ips::nn::kernels {

inline float from_bf16(std::uint16_t bits) {
    const std::uint32_t u = std::uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// Round to nearest even, as LibTorch converts float to bfloat16 (NaN stays a NaN).
inline std::uint16_t to_bf16(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    const std::uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return static_cast<std::uint16_t>(f != f ? 0x7FC0u : rounded);
}

// 2^x for x <= 0 (clamped at -126): x = n + f, |f| <= 1/2, 2^f by a degree-6 polynomial (relative
// error about 2e-7). Small positive x (below 1/2) is also fine.
inline float exp2_nonpositive(float x) {
    x = std::max(x, -126.0f);
    const float n = (x + 12582912.0f) - 12582912.0f;  // round to nearest (1.5 * 2^23)
    const float f = x - n;
    float p = 1.5403530e-4f;
    p = p * f + 1.3333558e-3f;
    p = p * f + 9.6181291e-3f;
    p = p * f + 5.5504109e-2f;
    p = p * f + 2.4022651e-1f;
    p = p * f + 6.9314718e-1f;
    p = p * f + 1.0f;
    const std::uint32_t bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

}  // namespace ips::nn::kernels
