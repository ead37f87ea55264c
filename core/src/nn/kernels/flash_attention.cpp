#include "nn/kernels/flash_attention.h"

#include <algorithm>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "nn/kernels/flash_attention_isa.h"

namespace ips::nn::kernels {

namespace {
#if defined(__x86_64__) && defined(__GNUC__)
bool has_avx512_bf16() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}

// AMX-TILE and AMX-BF16 in CPUID, the tile state enabled by the OS (XCR0 bits 17-18), and Linux's
// per-process permission for the tile data (arch_prctl ARCH_REQ_XCOMP_PERM, kernel 5.16+): without that
// grant the first tile instruction kills the process.
bool tiles_granted() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const bool amx_tile = (d >> 24) & 1, amx_bf16 = (d >> 22) & 1, osxsave = [] {
        unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
        return __get_cpuid(1, &a1, &b1, &c1, &d1) && ((c1 >> 27) & 1);
    }();
    if (!amx_tile || !amx_bf16 || !osxsave) return false;
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if (((lo >> 17) & 3) != 3) return false;
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}
#endif
}  // namespace

const char* isa_name(AttentionIsa isa) {
    switch (isa) {
    case AttentionIsa::amx_bf16: return "amx_bf16";
    case AttentionIsa::avx512_bf16: return "avx512_bf16";
    default: return "portable";
    }
}

bool cpu_supports(AttentionIsa isa) {
    if (isa == AttentionIsa::portable) return true;
#if defined(__x86_64__) && defined(__GNUC__)
    static const bool avx512 = has_avx512_bf16();
    static const bool amx = avx512 && tiles_granted();
    return isa == AttentionIsa::amx_bf16 ? amx : avx512;
#else
    return false;
#endif
}

AttentionIsa best_isa() {
    static const AttentionIsa best = cpu_supports(AttentionIsa::amx_bf16)      ? AttentionIsa::amx_bf16
                                     : cpu_supports(AttentionIsa::avx512_bf16) ? AttentionIsa::avx512_bf16
                                                                               : AttentionIsa::portable;
    return best;
}

std::size_t packed_kv_bytes(AttentionIsa isa, const AttentionShape& shape) {
#if defined(__x86_64__)
    if (isa == AttentionIsa::amx_bf16) return amx_bf16::packed_kv_bytes(shape);
    if (isa == AttentionIsa::avx512_bf16) return avx512_bf16::packed_kv_bytes(shape);
#endif
    return portable::packed_kv_bytes(shape);
}

void pack_kv(AttentionIsa isa, const AttentionShape& shape, const AttentionHead& head, void* packed) {
#if defined(__x86_64__)
    if (isa == AttentionIsa::amx_bf16) return amx_bf16::pack_kv(shape, head, packed);
    if (isa == AttentionIsa::avx512_bf16) return avx512_bf16::pack_kv(shape, head, packed);
#endif
    portable::pack_kv(shape, head, packed);
}

void attend_rows(AttentionIsa isa, const AttentionShape& shape, const AttentionHead& head, const void* packed,
                 std::int64_t row_begin, std::int64_t row_end) {
#if defined(__x86_64__)
    if (isa == AttentionIsa::amx_bf16) return amx_bf16::attend_rows(shape, head, packed, row_begin, row_end);
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
