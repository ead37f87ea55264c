#pragma once
#include <ATen/ATen.h>

#include "ips/bench.h"

namespace ips::bench {

// One whole generation (seconds = total including encoding and decoding; peak RSS filled by the caller).
BenchResult run_generation_bench(const BenchOptions& options, at::ScalarType dtype, const std::string& dtype_name);

}  // namespace ips::bench
