#include "nn/kernels/flash_attention.h"

#include <algorithm>

#include "nn/kernels/flash_attention_isa.h"

namespace ips::nn::kernels {

const char* isa_name(AttentionIsa isa) { return isa == AttentionIsa::avx512_bf16 ? "avx512_bf16" : "portable"; }

bool cpu_supports(AttentionIsa isa) {
    if (isa == AttentionIsa::portable) return true;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

AttentionIsa best_isa() {
    static const AttentionIsa best =
        cpu_supports(AttentionIsa::avx512_bf16) ? AttentionIsa::avx512_bf16 : AttentionIsa::portable;
    return best;
}

std::size_t packed_kv_bytes(AttentionIsa isa, const AttentionShape& shape) {
#if defined(__x86_64__)
    if (isa == AttentionIsa::avx512_bf16) return avx512_bf16::packed_kv_bytes(shape);
#endif
    return portable::packed_kv_bytes(shape);
}

void pack_kv(AttentionIsa isa, const AttentionShape& shape, const AttentionHead& head, void* packed) {
#if defined(__x86_64__)
    if (isa == AttentionIsa::avx512_bf16) return avx512_bf16::pack_kv(shape, head, packed);
#endif
    portable::pack_kv(shape, head, packed);
}

void attend_rows(AttentionIsa isa, const AttentionShape& shape, const AttentionHead& head, const void* packed,
                 std::int64_t row_begin, std::int64_t row_end) {
#if defined(__x86_64__)
    if (isa == AttentionIsa::avx512_bf16) return avx512_bf16::attend_rows(shape, head, packed, row_begin, row_end);
#endif
    portable::attend_rows(shape, head, packed, row_begin, row_end);
}

void attention(AttentionIsa isa, const AttentionShape& shape, std::int64_t batch, std::int64_t heads,
               const HeadTensor& q, const HeadTensor& k, const HeadTensor& v, const HeadTensor& out, void* packed) {
    const auto slice = [&](std::int64_t bh) {
        const std::int64_t b = bh / heads, h = bh % heads;
        const auto at = [&](const HeadTensor& t) { return t.data + b * t.batch_stride + h * t.head_stride; };
        return AttentionHead{at(q), q.row_stride, at(k), k.row_stride, at(v), v.row_stride, at(out), out.row_stride};
    };
    const auto packed_bytes = static_cast<std::int64_t>(packed_kv_bytes(isa, shape));
    auto* packed_data = static_cast<std::uint8_t*>(packed);
    const std::int64_t slices = batch * heads;
    // Consecutive tasks share a head, so each thread streams one head's keys and values at a time.
    const std::int64_t blocks = (shape.queries + kQueryRowsPerTask - 1) / kQueryRowsPerTask;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (std::int64_t bh = 0; bh < slices; ++bh) pack_kv(isa, shape, slice(bh), packed_data + bh * packed_bytes);
#pragma omp for schedule(static)
        for (std::int64_t task = 0; task < slices * blocks; ++task) {
            const std::int64_t bh = task / blocks, first = task % blocks * kQueryRowsPerTask;
            attend_rows(isa, shape, slice(bh), packed_data + bh * packed_bytes, first,
                        std::min(shape.queries, first + kQueryRowsPerTask));
        }
    }
}

}  // namespace ips::nn::kernels
