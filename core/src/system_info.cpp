#include "ips/system_info.h"

#include <fstream>

#include <opencv2/core/version.hpp>
#include <torch/version.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

namespace ips {
namespace {

std::string cpu_model_name() {
    std::ifstream info("/proc/cpuinfo");
    for (std::string line; std::getline(info, line);) {
        if (line.rfind("model name", 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) break;
        const auto first = line.find_first_not_of(" \t", colon + 1);
        return first == std::string::npos ? std::string() : line.substr(first);
    }
    return {};
}

CpuFeatures read_cpu_features() {
    CpuFeatures f;
    f.model = cpu_model_name();
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f.avx2 = (b >> 5) & 1;
        f.avx512f = (b >> 16) & 1;
        f.amx_bf16 = (d >> 22) & 1;
        const unsigned max_subleaf = a;
        if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512_bf16 = (a >> 5) & 1;
    }
#endif
    return f;
}

}  // namespace

std::vector<std::string> CpuFeatures::names() const {
    std::vector<std::string> out;
    if (avx2) out.push_back("AVX2");
    if (avx512f) out.push_back("AVX-512");
    if (avx512_bf16) out.push_back("AVX-512-BF16");
    if (amx_bf16) out.push_back("AMX-BF16");
    return out;
}

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = read_cpu_features();
    return features;
}

bool cpu_has_fast_bfloat16() { return cpu_features().avx512_bf16 || cpu_features().amx_bf16; }

std::string engine_library_versions() {
    return std::string("LibTorch ") + TORCH_VERSION + ", OpenCV " + CV_VERSION;
}

}  // namespace ips
