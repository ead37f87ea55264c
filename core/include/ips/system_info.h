#pragma once
// What this machine and this build offer, for defaults (precision) and the About box.
#include <string>
#include <vector>

namespace ips {

struct CpuFeatures {
    std::string model;         // "AMD EPYC 9R14 96-Core Processor" (from /proc/cpuinfo), empty if unknown
    bool avx2 = false;
    bool avx512f = false;
    bool avx512_bf16 = false;  // bfloat16 dot products in AVX-512 registers
    bool amx_bf16 = false;     // Intel AMX tiles with bfloat16
    std::vector<std::string> names() const;  // the features present, e.g. {"AVX2", "AVX-512", "AVX-512-BF16"}
};

// Read once from the CPU (cpuid), not from the build flags.
const CpuFeatures& cpu_features();

// True where bfloat16 runs natively (AVX-512-BF16 or AMX-BF16): there the bfloat16 path is about 1.6-1.8x
// faster than float32 at 42-48 dB PSNR against it. Elsewhere bfloat16 is emulated and slower.
bool cpu_has_fast_bfloat16();

// "LibTorch 1.13.1, OpenCV 4.6.0": the engine's libraries as compiled in.
std::string engine_library_versions();

}  // namespace ips
