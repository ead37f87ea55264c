#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <vector>

#include <torch/nn/module.h>

#include "ips/bench.h"
#include "ips/generation.h"
#include "ips/image.h"

namespace ips::nn {
class UNet2DConditionModelImpl;
}

namespace ips::bench {

// Whole generations on one engine: the plain `options.steps`-step DDIM run (cold: it encodes the prompt and the
// reference), then each of options.presets warm (seconds = total including decoding; peak RSS of each run), each
// result passed to `on_result` as it is measured.
void run_generation_bench(const BenchOptions& options, at::ScalarType dtype, const std::string& dtype_name,
                          const std::function<void(const BenchResult&)>& on_result);

// Random weights drawn in place in the module's own precision, the same every run; 4-D ones channels-last
// when asked.
void randomise(torch::nn::Module& m, bool channels_last);

// An IP-Adapter base file with random weights for the UNet's cross-attention layers, written into `folder`.
std::filesystem::path write_random_adapter(const std::filesystem::path& folder, nn::UNet2DConditionModelImpl& unet,
                                           std::int64_t embeds_dim);

// The benchmarks' reference picture: a 256x256 pattern.
Image reference_picture();
// The plain benchmark generation: `options` size and steps, DDIM, seed 1, one prompt, IP-Adapter base at 0.6
// with `reference` (in memory, or a file for a request written to disk).
GenerationRequest plain_request(const BenchOptions& options, const std::filesystem::path& model, const std::string& dtype_name,
                                const std::filesystem::path& adapter, const std::filesystem::path& image_encoder,
                                const ImageSource& reference);

}  // namespace ips::bench
