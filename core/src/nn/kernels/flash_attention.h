#pragma once
// Fused attention for one (batch, head) slice in bfloat16 with float32 accumulation: blocked online
// softmax (flash-attention style), so the Nq x Nk score matrix never exists in memory. Torch-free
// (pointers and strides): nn/attention.cpp hands it tensors and spreads the work over threads.
#include <cstddef>
#include <cstdint>

namespace ips::nn::kernels {

// The kernel's instruction sets, chosen at run time from the CPU's features.
enum class AttentionIsa {
    portable,     // plain C++ (vectorised by the compiler for AVX2 where present): any x86-64 or other CPU
    avx512_bf16,  // AVX-512 with vdpbf16ps: bf16 pair products accumulated in float32
    amx_bf16,     // both products on the AMX tile unit, the softmax in AVX-512 (needs avx512_bf16 too)
};
const char* isa_name(AttentionIsa isa);
bool cpu_supports(AttentionIsa isa);
// amx_bf16 also needs the operating system to grant this process the tile registers: cpu_supports asks
// for them (once) and says no where they are refused.
AttentionIsa best_isa();  // amx_bf16, else avx512_bf16, else portable: the best this CPU has

// One (batch, head) slice. bfloat16 values as raw bits; each row is `d` contiguous values, rows are
// `*_row_stride` values apart (the tensors' head-split views need not be contiguous).
struct AttentionHead {
    const std::uint16_t* q = nullptr;
    std::int64_t q_row_stride = 0;
    const std::uint16_t* k = nullptr;
    std::int64_t k_row_stride = 0;
    const std::uint16_t* v = nullptr;
    std::int64_t v_row_stride = 0;
    std::uint16_t* out = nullptr;
    std::int64_t out_row_stride = 0;
};

struct AttentionShape {
    std::int64_t queries = 0, keys = 0, dim = 0;  // values have the same dimension as keys
    float scale = 1.0f;                            // applied to q·k before the softmax
};

// A [batch, heads, rows, dim] tensor of bfloat16 bits with unit stride along dim.
struct HeadTensor {
    std::uint16_t* data = nullptr;
    std::int64_t batch_stride = 0, head_stride = 0, row_stride = 0;
};

// softmax(scale * q·kᵀ)·v for every (batch, head): packs each head's keys and values, then computes
// row blocks in parallel on OpenMP threads (LibTorch's own pool, so its thread count applies).
// `packed` holds batch * heads * packed_kv_bytes(isa, shape) bytes.
void attention(AttentionIsa isa, const AttentionShape& shape, std::int64_t batch, std::int64_t heads,
               const HeadTensor& q, const HeadTensor& k, const HeadTensor& v, const HeadTensor& out, void* packed);

// Query rows one work item handles: the unit of parallelism (every row block re-reads the head's K and V,
// which stay in the core's L2 cache).
constexpr std::int64_t kQueryRowsPerTask = 64;

// Keys and values are rearranged once per head into the layout the kernel's inner loops stream.
std::size_t packed_kv_bytes(AttentionIsa isa, const AttentionShape& shape);
void pack_kv(AttentionIsa isa, const AttentionShape& shape, const AttentionHead& head, void* packed);

// Computes output rows [row_begin, row_end) of one head from its packed keys and values.
void attend_rows(AttentionIsa isa, const AttentionShape& shape, const AttentionHead& head, const void* packed,
                 std::int64_t row_begin, std::int64_t row_end);

}  // namespace ips::nn::kernels
