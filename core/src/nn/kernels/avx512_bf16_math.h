#pragma once
// Vector helpers the AVX-512 attention kernels share (flash_attention_avx512.cpp, flash_attention_amx.cpp).
// Only for sources compiled with AVX-512 (-mavx512f/bw/vl/dq/bf16): included nowhere else.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace ips::nn::kernels::avx512 {

// 2^x for finite x: x = n + f with |f| <= 1/2, 2^f by its degree-4 Taylor polynomial (relative error
// < 4e-5, a hundred times below the bf16 rounding the probabilities get next), scaled by 2^n (which
// underflows to 0 far below -126).
inline __m512 exp2_finite(__m512 x) {
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(9.6181291e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504109e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022651e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// 2^x for x <= 0, -inf included: inputs below -126 give about 1e-38, which callers mask anyway.
inline __m512 exp2_nonpositive(__m512 x) { return exp2_finite(_mm512_max_ps(x, _mm512_set1_ps(-126.0f))); }

// The first n of 16 lanes.
inline __mmask16 lanes_below(std::int64_t n) {
    return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// dst[0 .. dim) = bf16(row[c] * scale): one output row from its float32 accumulator (row holds dim rounded
// up to 16 values).
inline void store_scaled_row(std::uint16_t* dst, const float* row, float scale, std::int64_t dim) {
    const __m512 s = _mm512_set1_ps(scale);
    for (std::int64_t c = 0; c * 16 < dim; ++c) {
        const __m256bh b = _mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_loadu_ps(row + c * 16), s));
        __m256i bits;
        std::memcpy(&bits, &b, sizeof bits);
        _mm256_mask_storeu_epi16(dst + c * 16, lanes_below(dim - c * 16), bits);
    }
}

}  // namespace ips::nn::kernels::avx512
