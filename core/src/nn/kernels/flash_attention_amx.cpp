// AMX attention kernel (compiled with -mamx-tile -mamx-bf16 and AVX-512; only called where the CPU has
// AMX and the kernel granted this process its tile registers). The two products run on the tile unit:
// 16 query rows x 128 keys of scores per block (two passes of four 16x16 float32 tiles, q·k over
// dimension chunks of 32), then probabilities x values in 16-column tiles. Between them the online softmax
// runs in AVX-512 on the scores the tiles store to memory: the avx512_bf16 kernel's exp2 polynomial and
// bf16 rounding of the probabilities, with the per-row work (max reduction, rescaling) paid once per 128
// keys and the row sums kept as vectors until the end. Tile registers: 0-3 accumulate, 4-5 hold left
// operands, 6-7 right ones.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "nn/kernels/avx512_bf16_math.h"
#include "nn/kernels/flash_attention_isa.h"

namespace ips::nn::kernels::amx_bf16 {
namespace {

constexpr int kRows = 16;       // query rows per block: one tile's rows
constexpr int kKeys = 128;      // keys per block: two passes of four 16-key score tiles
constexpr int kChunk = 32;      // bf16 values in one tile row (64 bytes): the dimension step of a product
constexpr int kTileBytes = 64;  // bytes in one tile row

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

struct Layout {
    std::int64_t qk_dim;  // dimension rounded up to whole 32-value chunks (zeros add nothing)
    std::int64_t keys;    // keys rounded up to a whole block; padding keys are masked out
    std::int64_t width;   // value dimension rounded up to whole 16-column output tiles
    std::int64_t chunks() const { return qk_dim / kChunk; }
    std::int64_t column_tiles() const { return width / 16; }
    // Keys: per 16-key tile and dimension chunk, a 16 x 32 block in the tile unit's pair layout
    // ([dim pair][key][2]). Values: per 32-key chunk and 16-column tile, [key pair][column][2].
    std::size_t key_elements() const { return static_cast<std::size_t>(keys * qk_dim); }
    std::size_t value_elements() const { return static_cast<std::size_t>(keys * width); }
    std::size_t key_block(std::int64_t key_tile, std::int64_t chunk) const {
        return static_cast<std::size_t>((key_tile * chunks() + chunk) * 16 * kChunk);
    }
    std::size_t value_block(std::int64_t key_chunk, std::int64_t column_tile) const {
        return static_cast<std::size_t>((key_chunk * column_tiles() + column_tile) * 16 * kChunk);
    }
};

Layout layout_of(const AttentionShape& s) {
    return {round_up(s.dim, kChunk), round_up(s.keys, kKeys), round_up(s.dim, 16)};
}

// The tile configuration (palette 1): eight tiles of 16 rows x 64 bytes.
struct alignas(64) TileConfig {
    std::uint8_t palette = 1;
    std::uint8_t start_row = 0;
    std::uint8_t reserved[14] = {};
    std::uint16_t column_bytes[16] = {};
    std::uint8_t rows[16] = {};
};

TileConfig full_tiles() {
    TileConfig c;
    for (int t = 0; t < 8; ++t) {
        c.column_bytes[t] = kTileBytes;
        c.rows[t] = kRows;
    }
    return c;
}

// Configures the tiles for this thread's block of work and releases them after, so other code on the
// thread (oneDNN's AMX convolutions configure their own) starts from the initial state.
struct TileScope {
    TileScope() {
        static const TileConfig config = full_tiles();
        _tile_loadconfig(&config);
    }
    ~TileScope() { _tile_release(); }
    TileScope(const TileScope&) = delete;
    TileScope& operator=(const TileScope&) = delete;
};

using avx512::exp2_finite;
using avx512::lanes_below;

// Starts q[r]·k[j] for the block's 16 rows and the 64 keys from `first_key_tile` in tiles 0-3 (one per
// 16 keys); store_scores writes them out. In between the tile unit works while the caller's vector code runs.
inline void start_scores(const std::uint16_t* q, const Layout& L, const std::uint16_t* keys, std::int64_t first_key_tile) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    const std::int64_t q_stride = L.qk_dim * 2;
    // Right operands alternate between tiles 6 and 7 (left ones between 4 and 5) so that a load need not
    // wait for the product still reading the previous one.
    for (std::int64_t c = 0; c < L.chunks(); c += 2) {
        _tile_loadd(4, q + c * kChunk, q_stride);
        _tile_loadd(6, keys + L.key_block(first_key_tile + 0, c), kTileBytes);
        _tile_dpbf16ps(0, 4, 6);
        _tile_loadd(7, keys + L.key_block(first_key_tile + 1, c), kTileBytes);
        _tile_dpbf16ps(1, 4, 7);
        _tile_loadd(6, keys + L.key_block(first_key_tile + 2, c), kTileBytes);
        _tile_dpbf16ps(2, 4, 6);
        _tile_loadd(7, keys + L.key_block(first_key_tile + 3, c), kTileBytes);
        _tile_dpbf16ps(3, 4, 7);
        if (c + 1 == L.chunks()) break;
        _tile_loadd(5, q + (c + 1) * kChunk, q_stride);
        _tile_loadd(6, keys + L.key_block(first_key_tile + 0, c + 1), kTileBytes);
        _tile_dpbf16ps(0, 5, 6);
        _tile_loadd(7, keys + L.key_block(first_key_tile + 1, c + 1), kTileBytes);
        _tile_dpbf16ps(1, 5, 7);
        _tile_loadd(6, keys + L.key_block(first_key_tile + 2, c + 1), kTileBytes);
        _tile_dpbf16ps(2, 5, 6);
        _tile_loadd(7, keys + L.key_block(first_key_tile + 3, c + 1), kTileBytes);
        _tile_dpbf16ps(3, 5, 7);
    }
}

// scores[r][column + j] for the 64 keys start_scores computed.
inline void store_scores(float (&scores)[kRows][kKeys], int column) {
    constexpr std::int64_t row_bytes = kKeys * sizeof(float);
    _tile_stored(0, &scores[0][column], row_bytes);
    _tile_stored(1, &scores[0][column + 16], row_bytes);
    _tile_stored(2, &scores[0][column + 32], row_bytes);
    _tile_stored(3, &scores[0][column + 48], row_bytes);
}

// products[t][r][c] = sum over the block's keys of probs[r][key] · values[key][16 t + c], for `tiles` (1-4)
// consecutive 16-column tiles from `first_tile`; `key_chunks` 32-key chunks hold keys (the rest are padding).
template <int Tiles>
inline void block_values(const std::uint16_t (&probs)[kRows][kKeys], const Layout& L, const std::uint16_t* values,
                         std::int64_t first_key_chunk, int key_chunks, std::int64_t first_tile,
                         float (&products)[4][kRows][16]) {
    if constexpr (Tiles > 0) _tile_zero(0);
    if constexpr (Tiles > 1) _tile_zero(1);
    if constexpr (Tiles > 2) _tile_zero(2);
    if constexpr (Tiles > 3) _tile_zero(3);
    constexpr std::int64_t probs_stride = kKeys * sizeof(std::uint16_t);
    // Chunks alternate their left operand between tiles 4 and 5 (and the right ones between 6 and 7): a
    // load into a tile waits for every product still reading it. (The intrinsics paste tile numbers into
    // the assembly, so they must be literals: a macro, not a template.)
#define IPS_AMX_VALUE_CHUNK(A, B0, B1)                                                    \
    {                                                                                     \
        _tile_loadd(A, &probs[0][kc * kChunk], probs_stride);                             \
        const std::int64_t chunk = first_key_chunk + kc;                                  \
        _tile_loadd(B0, values + L.value_block(chunk, first_tile + 0), kTileBytes);       \
        _tile_dpbf16ps(0, A, B0);                                                         \
        if constexpr (Tiles > 1) {                                                        \
            _tile_loadd(B1, values + L.value_block(chunk, first_tile + 1), kTileBytes);   \
            _tile_dpbf16ps(1, A, B1);                                                     \
        }                                                                                 \
        if constexpr (Tiles > 2) {                                                        \
            _tile_loadd(B0, values + L.value_block(chunk, first_tile + 2), kTileBytes);   \
            _tile_dpbf16ps(2, A, B0);                                                     \
        }                                                                                 \
        if constexpr (Tiles > 3) {                                                        \
            _tile_loadd(B1, values + L.value_block(chunk, first_tile + 3), kTileBytes);   \
            _tile_dpbf16ps(3, A, B1);                                                     \
        }                                                                                 \
    }
    for (int kc = 0; kc < key_chunks; ++kc) {
        if (kc % 2 == 0) IPS_AMX_VALUE_CHUNK(4, 6, 7)
        else IPS_AMX_VALUE_CHUNK(5, 7, 6)
    }
#undef IPS_AMX_VALUE_CHUNK
    constexpr std::int64_t row_bytes = 16 * sizeof(float);
    if constexpr (Tiles > 0) _tile_stored(0, &products[0][0][0], row_bytes);
    if constexpr (Tiles > 1) _tile_stored(1, &products[1][0][0], row_bytes);
    if constexpr (Tiles > 2) _tile_stored(2, &products[2][0][0], row_bytes);
    if constexpr (Tiles > 3) _tile_stored(3, &products[3][0][0], row_bytes);
}

// One row of a block's online softmax: exp2(scale·log2(e)·score - running max) rounded to bf16 into
// `probs`, the running max and the per-lane sums updated. Returns the factor the row's earlier output and
// sums are rescaled by: 1 when the max did not grow (no exp2 then), 0 for the first block. `Full`: all
// kKeys keys are real (no masks); else the first `valid`, in `vecs` vectors.
template <bool Full>
inline float softmax_row(const float (&scores)[kKeys], std::uint16_t (&probs)[kKeys], int vecs, std::int64_t valid,
                         float scale_log2e, float& row_max, float (&row_sums)[16]) {
    constexpr int kVecs = kKeys / 16;
    const int n = Full ? kVecs : vecs;
    const auto lane = [&](int c) { return Full ? __mmask16(0xFFFF) : lanes_below(valid - 16 * c); };
    // scale_log2e > 0 keeps the largest raw score's place; a negative scale takes the smallest.
    float block_max;
    if (scale_log2e > 0) {
        __m512 top = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
        for (int c = 0; c < n; ++c) top = _mm512_mask_max_ps(top, lane(c), top, _mm512_load_ps(&scores[c * 16]));
        block_max = _mm512_reduce_max_ps(top) * scale_log2e;
    } else {
        __m512 low = _mm512_set1_ps(std::numeric_limits<float>::infinity());
        for (int c = 0; c < n; ++c) low = _mm512_mask_min_ps(low, lane(c), low, _mm512_load_ps(&scores[c * 16]));
        block_max = _mm512_reduce_min_ps(low) * scale_log2e;
    }
    float rescale = 1.0f;
    if (block_max > row_max) {
        rescale = row_max == -std::numeric_limits<float>::infinity()
                      ? 0.0f
                      : _mm512_cvtss_f32(exp2_finite(_mm512_set1_ps(row_max - block_max)));
        row_max = block_max;
    }
    const __m512 c_scale = _mm512_set1_ps(scale_log2e), m = _mm512_set1_ps(row_max);
    __m512 sum = _mm512_load_ps(row_sums);
    if (rescale != 1.0f) sum = _mm512_mul_ps(sum, _mm512_set1_ps(rescale));
    for (int c = 0; c < n; ++c) {
        __m512 p = exp2_finite(_mm512_fmsub_ps(_mm512_load_ps(&scores[c * 16]), c_scale, m));
        if (!Full) p = _mm512_maskz_mov_ps(lane(c), p);
        sum = _mm512_add_ps(sum, p);
        const __m256bh pb = _mm512_cvtneps_pbh(p);
        std::memcpy(&probs[c * 16], &pb, sizeof pb);
    }
    _mm512_store_ps(row_sums, sum);
    // The value product reads whole 32-key chunks: the half chunk after the last keys adds 0.
    if (!Full && n % 2) std::memset(&probs[n * 16], 0, 16 * sizeof(std::uint16_t));
    return rescale;
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
        for (std::int64_t c = 0; c < s.dim; ++c) {
            // Chunk c / 32, pair row (c % 32) / 2, key column j % 16, element c % 2.
            kp[L.key_block(j / 16, c / kChunk) + ((c % kChunk) / 2) * kChunk + (j % 16) * 2 + (c & 1)] = k[c];
        }
        const std::uint16_t* v = h.v + j * h.v_row_stride;
        for (std::int64_t c = 0; c < s.dim; ++c) {
            // Key chunk j / 32, pair row (j % 32) / 2, column c % 16 of tile c / 16, element j % 2.
            vp[L.value_block(j / kChunk, c / 16) + ((j % kChunk) / 2) * kChunk + (c % 16) * 2 + (j & 1)] = v[c];
        }
    }
}

void attend_rows(const AttentionShape& s, const AttentionHead& h, const void* packed, std::int64_t row_begin,
                 std::int64_t row_end) {
    const Layout L = layout_of(s);
    const auto* kp = static_cast<const std::uint16_t*>(packed);
    const std::uint16_t* vp = kp + L.key_elements();
    const std::int64_t width_vecs = L.column_tiles();
    const float scale_log2e = s.scale * 1.44269504088896341f;

    std::vector<std::uint16_t> q(static_cast<std::size_t>(kRows * L.qk_dim));
    std::vector<float> acc(static_cast<std::size_t>(kRows * L.width));
    alignas(64) float scores[2][kRows][kKeys];  // this key block's and the next one's
    alignas(64) std::uint16_t probs[kRows][kKeys];
    alignas(64) float products[4][kRows][16];
    alignas(64) float row_sums[kRows][16];  // per-lane partial sums, reduced once at the end
    const TileScope tiles;

    for (std::int64_t i0 = row_begin; i0 < row_end; i0 += kRows) {
        const int rows = static_cast<int>(std::min<std::int64_t>(kRows, row_end - i0));
        std::fill(q.begin(), q.end(), 0);
        for (int r = 0; r < rows; ++r)
            std::memcpy(&q[r * L.qk_dim], h.q + (i0 + r) * h.q_row_stride, s.dim * sizeof(std::uint16_t));
        std::fill(acc.begin(), acc.end(), 0.0f);
        std::memset(row_sums, 0, sizeof row_sums);
        float row_max[kRows], rescale[kRows];
        std::fill_n(row_max, kRows, -std::numeric_limits<float>::infinity());

        // Software pipeline: the next key block's scores run on the tile unit while this block's softmax
        // runs on the vector units (its first 64 keys during rows 0-7, the rest during rows 8-15).
        const auto keys_in = [&](std::int64_t kb) { return std::min<std::int64_t>(kKeys, s.keys - kb); };
        start_scores(q.data(), L, kp, 0);
        store_scores(scores[0], 0);
        if (keys_in(0) > 64) {
            start_scores(q.data(), L, kp, 4);
            store_scores(scores[0], 64);
        }
        for (std::int64_t kb = 0, cur = 0; kb < L.keys; kb += kKeys, cur ^= 1) {
            const std::int64_t valid = keys_in(kb);
            const int vecs = static_cast<int>((valid + 15) / 16);
            const std::int64_t next = kb + kKeys;
            const bool more = next < L.keys;
            // Padding keys score exactly 0 (their packed keys are zeros): finite, left out of the max and
            // their probabilities zeroed.
            for (int r = 0; r < kRows; ++r) {
                if (more && r == 0) start_scores(q.data(), L, kp, next / 16);
                if (more && r == kRows / 2) {
                    store_scores(scores[cur ^ 1], 0);
                    if (keys_in(next) > 64) start_scores(q.data(), L, kp, next / 16 + 4);
                }
                const auto& row = scores[cur][r];
                rescale[r] = valid == kKeys
                                 ? softmax_row<true>(row, probs[r], vecs, valid, scale_log2e, row_max[r], row_sums[r])
                                 : softmax_row<false>(row, probs[r], vecs, valid, scale_log2e, row_max[r], row_sums[r]);
            }
            if (more && keys_in(next) > 64) store_scores(scores[cur ^ 1], 64);

            // acc = acc * rescale + probs · values, four 16-column tiles at a time.
            const int key_chunks = (vecs + 1) / 2;
            for (std::int64_t t = 0; t < width_vecs; t += 4) {
                const int n = static_cast<int>(std::min<std::int64_t>(4, width_vecs - t));
                if (n == 4) block_values<4>(probs, L, vp, kb / kChunk, key_chunks, t, products);
                if (n == 3) block_values<3>(probs, L, vp, kb / kChunk, key_chunks, t, products);
                if (n == 2) block_values<2>(probs, L, vp, kb / kChunk, key_chunks, t, products);
                if (n == 1) block_values<1>(probs, L, vp, kb / kChunk, key_chunks, t, products);
                for (int r = 0; r < kRows; ++r) {
                    const __m512 a = _mm512_set1_ps(rescale[r]);
                    float* row = &acc[r * L.width + t * 16];
                    for (int c = 0; c < n; ++c)
                        _mm512_storeu_ps(row + c * 16, _mm512_fmadd_ps(_mm512_loadu_ps(row + c * 16), a,
                                                                       _mm512_load_ps(&products[c][r][0])));
                }
            }
        }

        for (int r = 0; r < rows; ++r)
            avx512::store_scaled_row(h.out + (i0 + r) * h.out_row_stride, &acc[r * L.width],
                                     1.0f / _mm512_reduce_add_ps(_mm512_load_ps(row_sums[r])), s.dim);
    }
}

}  // namespace ips::nn::kernels::amx_bf16
