// AVX-512-BF16 attention kernel (compiled with -mavx512bf16; only called where the CPU has it).
// Scores: for 4 query rows x 64 keys at a time, vdpbf16ps multiplies pairs of bf16 dimensions and
// accumulates in float32, keys packed as [dim pair][key][2]. Softmax: online (running max and sum per
// row, earlier partial outputs rescaled when the max grows), exp2 by a polynomial. Output: probabilities
// rounded to bf16 (as the reference's bf16 matmul rounds them) times values packed as [key pair][dim][2].
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "nn/kernels/avx512_bf16_math.h"
#include "nn/kernels/flash_attention_isa.h"

namespace ips::nn::kernels::avx512_bf16 {
namespace {

constexpr int kRows = 6;   // query rows sharing each loaded key and value vector
constexpr int kKeys = 64;  // keys per block: four 16-lane vectors of scores per row
constexpr int kVecs = kKeys / 16;

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

struct Layout {
    std::int64_t pairs;  // dimension pairs of q·k (dim rounded up to even)
    std::int64_t keys;   // keys rounded up to a whole block; padding keys are masked out
    std::int64_t width;  // value dimension rounded up to 16 lanes
    std::size_t key_elements() const { return static_cast<std::size_t>(pairs * keys * 2); }
    std::size_t value_elements() const { return static_cast<std::size_t>(keys / 2 * width * 2); }
};

Layout layout_of(const AttentionShape& s) { return {(s.dim + 1) / 2, round_up(s.keys, kKeys), round_up(s.dim, 16)}; }

using avx512::exp2_nonpositive;
using avx512::lanes_below;

inline __m512bh as_bf16(__m512i v) { return reinterpret_cast<__m512bh&>(v); }

inline __m512bh broadcast_pair(const void* two_bf16) {
    std::uint32_t bits;
    std::memcpy(&bits, two_bf16, sizeof bits);
    return as_bf16(_mm512_set1_epi32(static_cast<int>(bits)));
}

// scores[r][j] = q[r]·k[j] for kRows query rows and one block of kKeys keys (packed [pair][key][2]).
// All 16 accumulators stay in registers (the loops are unrolled), one key load serves kRows rows.
inline void block_scores(const std::uint16_t* q, std::int64_t pairs, const std::uint16_t* keys, std::int64_t key_stride,
                         float (&scores)[kRows][kKeys]) {
    __m512 acc[kRows][kVecs];
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
        for (int c = 0; c < kVecs; ++c) acc[r][c] = _mm512_setzero_ps();
    for (std::int64_t t = 0; t < pairs; ++t) {
        const std::uint16_t* kt = keys + t * key_stride * 2;
        __m512bh kv[kVecs];
#pragma GCC unroll 4
        for (int c = 0; c < kVecs; ++c) kv[c] = as_bf16(_mm512_loadu_si512(kt + c * 32));
#pragma GCC unroll 8
        for (int r = 0; r < kRows; ++r) {
            const __m512bh qb = broadcast_pair(q + (r * pairs + t) * 2);
#pragma GCC unroll 4
            for (int c = 0; c < kVecs; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], kv[c], qb);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
        for (int c = 0; c < kVecs; ++c) _mm512_store_ps(&scores[r][c * 16], acc[r][c]);
}

// acc[r][0 .. 16*N) += sum over key pairs u of probs[r][2u..2u+1] · values[u][..][2], for kRows rows: N
// vectors per row side by side so 4*N independent accumulation chains hide vdpbf16ps's latency.
template <int N>
inline void accumulate_values(float* acc, std::int64_t acc_stride, const std::uint16_t* values, std::int64_t key_pairs,
                              const std::uint16_t (&probs)[kRows][kKeys]) {
    __m512 out[kRows][N];
    for (int r = 0; r < kRows; ++r)
        for (int c = 0; c < N; ++c) out[r][c] = _mm512_loadu_ps(acc + r * acc_stride + c * 16);
    const std::int64_t value_stride = acc_stride * 2;  // one key pair: `width` dims x 2 keys
    for (std::int64_t u = 0; u < key_pairs; ++u) {
        __m512bh v[N];
#pragma GCC unroll 4
        for (int c = 0; c < N; ++c) v[c] = as_bf16(_mm512_loadu_si512(values + u * value_stride + c * 32));
#pragma GCC unroll 8
        for (int r = 0; r < kRows; ++r) {
            const __m512bh p = broadcast_pair(&probs[r][u * 2]);
#pragma GCC unroll 4
            for (int c = 0; c < N; ++c) out[r][c] = _mm512_dpbf16_ps(out[r][c], v[c], p);
        }
    }
    for (int r = 0; r < kRows; ++r)
        for (int c = 0; c < N; ++c) _mm512_storeu_ps(acc + r * acc_stride + c * 16, out[r][c]);
}

}  // namespace

std::size_t packed_kv_bytes(const AttentionShape& shape) {
    const Layout L = layout_of(shape);
    return (L.key_elements() + L.value_elements()) * sizeof(std::uint16_t);
}

void pack_kv(const AttentionShape& s, const AttentionHead& h, void* packed) {
    const Layout L = layout_of(s);
    auto* kp = static_cast<std::uint16_t*>(packed);
    std::uint16_t* vp = kp + L.key_elements();
    std::memset(packed, 0, packed_kv_bytes(s));
    for (std::int64_t j = 0; j < s.keys; ++j) {
        const std::uint16_t* k = h.k + j * h.k_row_stride;
        for (std::int64_t c = 0; c < s.dim; ++c) kp[((c / 2) * L.keys + j) * 2 + (c & 1)] = k[c];
        const std::uint16_t* v = h.v + j * h.v_row_stride;
        std::uint16_t* dst = vp + (j / 2) * L.width * 2 + (j & 1);
        for (std::int64_t c = 0; c < s.dim; ++c) dst[c * 2] = v[c];
    }
}

void attend_rows(const AttentionShape& s, const AttentionHead& h, const void* packed, std::int64_t row_begin,
                 std::int64_t row_end) {
    const Layout L = layout_of(s);
    const auto* kp = static_cast<const std::uint16_t*>(packed);
    const std::uint16_t* vp = kp + L.key_elements();
    const std::int64_t width_vecs = L.width / 16;
    const __m512 scale_log2e = _mm512_set1_ps(s.scale * 1.44269504088896341f);
    const __m512 minus_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());

    std::vector<std::uint16_t> q(static_cast<std::size_t>(kRows * L.pairs * 2));
    std::vector<float> acc(static_cast<std::size_t>(kRows * L.width));
    alignas(64) float scores[kRows][kKeys];
    alignas(64) std::uint16_t probs[kRows][kKeys];

    for (std::int64_t i0 = row_begin; i0 < row_end; i0 += kRows) {
        const int rows = static_cast<int>(std::min<std::int64_t>(kRows, row_end - i0));
        std::fill(q.begin(), q.end(), 0);
        for (int r = 0; r < rows; ++r)
            std::memcpy(&q[r * L.pairs * 2], h.q + (i0 + r) * h.q_row_stride, s.dim * sizeof(std::uint16_t));
        std::fill(acc.begin(), acc.end(), 0.0f);
        float row_max[kRows], row_sum[kRows];
        std::fill_n(row_max, kRows, -std::numeric_limits<float>::infinity());
        std::fill_n(row_sum, kRows, 0.0f);

        for (std::int64_t kb = 0; kb < L.keys; kb += kKeys) {
            block_scores(q.data(), L.pairs, kp + kb * 2, L.keys, scores);
            const std::int64_t valid = std::min<std::int64_t>(kKeys, s.keys - kb);
            __mmask16 lane[kVecs];
            for (int c = 0; c < kVecs; ++c) lane[c] = lanes_below(valid - 16 * c);
            for (int r = 0; r < kRows; ++r) {
                __m512 x[kVecs];
                for (int c = 0; c < kVecs; ++c) x[c] = _mm512_mask_mul_ps(minus_inf, lane[c], _mm512_load_ps(&scores[r][c * 16]), scale_log2e);
                const float block_max =
                    _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(x[0], x[1]), _mm512_max_ps(x[2], x[3])));
                const float new_max = std::max(row_max[r], block_max);
                // About 0 for the first block (max -inf), 1 when the max did not grow.
                const float rescale = _mm512_cvtss_f32(exp2_nonpositive(_mm512_set1_ps(row_max[r] - new_max)));
                const __m512 m = _mm512_set1_ps(new_max);
                __m512 sum = _mm512_setzero_ps();
                for (int c = 0; c < kVecs; ++c) {
                    const __m512 p = _mm512_maskz_mov_ps(lane[c], exp2_nonpositive(_mm512_sub_ps(x[c], m)));
                    sum = _mm512_add_ps(sum, p);
                    const __m256bh pb = _mm512_cvtneps_pbh(p);
                    std::memcpy(&probs[r][c * 16], &pb, sizeof pb);
                }
                row_sum[r] = row_sum[r] * rescale + _mm512_reduce_add_ps(sum);
                row_max[r] = new_max;
                if (rescale != 1.0f) {
                    const __m512 a = _mm512_set1_ps(rescale);
                    float* row = &acc[r * L.width];
                    for (std::int64_t c = 0; c < width_vecs; ++c)
                        _mm512_storeu_ps(row + c * 16, _mm512_mul_ps(_mm512_loadu_ps(row + c * 16), a));
                }
            }

            const std::uint16_t* vblock = vp + (kb / 2) * L.width * 2;
            const std::int64_t key_pairs = (valid + 1) / 2;  // the all-padding pairs after the last key add 0
            for (std::int64_t c = 0; c < width_vecs;) {
                const std::int64_t left = width_vecs - c;
                const int n = left == 5 ? 3 : static_cast<int>(std::min<std::int64_t>(4, left));
                if (n == 4) accumulate_values<4>(acc.data() + c * 16, L.width, vblock + c * 32, key_pairs, probs);
                if (n == 3) accumulate_values<3>(acc.data() + c * 16, L.width, vblock + c * 32, key_pairs, probs);
                if (n == 2) accumulate_values<2>(acc.data() + c * 16, L.width, vblock + c * 32, key_pairs, probs);
                if (n == 1) accumulate_values<1>(acc.data() + c * 16, L.width, vblock + c * 32, key_pairs, probs);
                c += n;
            }
        }

        for (int r = 0; r < rows; ++r)
            avx512::store_scaled_row(h.out + (i0 + r) * h.out_row_stride, &acc[r * L.width], 1.0f / row_sum[r], s.dim);
    }
}

}  // namespace ips::nn::kernels::avx512_bf16
