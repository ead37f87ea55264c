#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "ips/bench.h"

namespace ips::bench {

// Whole generations on one engine: the plain `options.steps`-step DDIM run (cold: it encodes the prompt and the
// reference), then each of options.presets warm (seconds = total including decoding; peak RSS of each run), each
// result passed to `on_result` as it is measured.
void run_generation_bench(const BenchOptions& options, at::ScalarType dtype, const std::string& dtype_name,
                          const std::function<void(const BenchResult&)>& on_result);

}  // namespace ips::bench
