// Portable attention kernel: the same blocked online softmax as the AVX-512 one in plain float32 C++,
// for CPUs without AVX-512-BF16. Inner loops run over contiguous arrays so the compiler vectorises
// them; the hot function is also compiled for x86-64-v3 (AVX2 + FMA) and picked at load time.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "nn/kernels/bf16_scalar.h"
#include "nn/kernels/flash_attention_isa.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IPS_CLONE_FOR_AVX2 __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define IPS_CLONE_FOR_AVX2
#endif

namespace ips::nn::kernels::portable {
namespace {

constexpr int kRows = 4;
constexpr int kKeys = 64;

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

struct Layout {
    std::int64_t keys;  // rounded up to a whole block
    std::size_t key_elements(std::int64_t dim) const { return static_cast<std::size_t>(dim * keys); }
};

// Scores of kRows query rows against one block of keys: keys are stored transposed ([dim][key]).
IPS_CLONE_FOR_AVX2
void block_scores(const float* q, std::int64_t dim, const float* keys_t, std::int64_t key_stride, float* scores) {
    std::fill(scores, scores + kRows * kKeys, 0.0f);
    for (std::int64_t t = 0; t < dim; ++t) {
        const float* k = keys_t + t * key_stride;
        for (int r = 0; r < kRows; ++r) {
            const float qt = q[r * dim + t];
            float* s = scores + r * kKeys;
            for (int j = 0; j < kKeys; ++j) s[j] += qt * k[j];
        }
    }
}

IPS_CLONE_FOR_AVX2
void accumulate_values(const float* probs, const float* values, std::int64_t dim, std::int64_t keys, float* acc) {
    for (std::int64_t j = 0; j < keys; ++j) {
        const float* v = values + j * dim;
        for (int r = 0; r < kRows; ++r) {
            const float p = probs[r * kKeys + j];
            float* a = acc + r * dim;
            for (std::int64_t c = 0; c < dim; ++c) a[c] += p * v[c];
        }
    }
}

}  // namespace

std::size_t packed_kv_bytes(const AttentionShape& s) {
    const Layout L{round_up(s.keys, kKeys)};
    return (L.key_elements(s.dim) + static_cast<std::size_t>(L.keys * s.dim)) * sizeof(float);
}

void pack_kv(const AttentionShape& s, const AttentionHead& h, void* packed) {
    const Layout L{round_up(s.keys, kKeys)};
    auto* keys_t = static_cast<float*>(packed);
    float* values = keys_t + L.key_elements(s.dim);
    std::memset(packed, 0, packed_kv_bytes(s));
    for (std::int64_t j = 0; j < s.keys; ++j)
        for (std::int64_t c = 0; c < s.dim; ++c) {
            keys_t[c * L.keys + j] = from_bf16(h.k[j * h.k_row_stride + c]);
            values[j * s.dim + c] = from_bf16(h.v[j * h.v_row_stride + c]);
        }
}

void attend_rows(const AttentionShape& s, const AttentionHead& h, const void* packed, std::int64_t row_begin,
                 std::int64_t row_end) {
    const Layout L{round_up(s.keys, kKeys)};
    const auto* keys_t = static_cast<const float*>(packed);
    const float* values = keys_t + L.key_elements(s.dim);
    const float scale_log2e = s.scale * 1.44269504088896341f;
    std::vector<float> q(static_cast<std::size_t>(kRows * s.dim)), acc(static_cast<std::size_t>(kRows * s.dim));
    std::vector<float> scores(kRows * kKeys);

    for (std::int64_t i0 = row_begin; i0 < row_end; i0 += kRows) {
        const int rows = static_cast<int>(std::min<std::int64_t>(kRows, row_end - i0));
        std::fill(q.begin(), q.end(), 0.0f);
        for (int r = 0; r < rows; ++r)
            for (std::int64_t c = 0; c < s.dim; ++c) q[r * s.dim + c] = from_bf16(h.q[(i0 + r) * h.q_row_stride + c]);
        std::fill(acc.begin(), acc.end(), 0.0f);
        float row_max[kRows], row_sum[kRows];
        std::fill_n(row_max, kRows, -std::numeric_limits<float>::infinity());
        std::fill_n(row_sum, kRows, 0.0f);

        for (std::int64_t kb = 0; kb < L.keys; kb += kKeys) {
            const int valid = static_cast<int>(std::min<std::int64_t>(kKeys, s.keys - kb));
            block_scores(q.data(), s.dim, keys_t + kb, L.keys, scores.data());
            for (int r = 0; r < kRows; ++r) {
                float* x = &scores[r * kKeys];
                float block_max = -std::numeric_limits<float>::infinity();
                for (int j = 0; j < valid; ++j) block_max = std::max(block_max, x[j] *= scale_log2e);
                const float new_max = std::max(row_max[r], block_max);
                const float rescale = std::exp2(row_max[r] - new_max);
                float sum = 0.0f;
                for (int j = 0; j < valid; ++j) sum += x[j] = exp2_nonpositive(x[j] - new_max);
                std::fill(x + valid, x + kKeys, 0.0f);
                row_sum[r] = row_sum[r] * rescale + sum;
                row_max[r] = new_max;
                if (rescale != 1.0f)
                    for (std::int64_t c = 0; c < s.dim; ++c) acc[r * s.dim + c] *= rescale;
            }
            accumulate_values(scores.data(), values + kb * s.dim, s.dim, valid, acc.data());
        }

        for (int r = 0; r < rows; ++r) {
            const float inv = 1.0f / row_sum[r];
            std::uint16_t* dst = h.out + (i0 + r) * h.out_row_stride;
            for (std::int64_t c = 0; c < s.dim; ++c) dst[c] = to_bf16(acc[r * s.dim + c] * inv);
        }
    }
}

}  // namespace ips::nn::kernels::portable
