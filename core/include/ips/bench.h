#pragma once
// `ipstudio-cli bench`: the networks at real SD1.5 sizes with random weights, timed in each precision.
#include "ips/runtime.h"  // configure_runtime, which benchmark runs start with
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ips {

struct BenchOptions {
    std::filesystem::path config_root;              // folder with unet/, vae/, text_encoder/, image_encoder/ configs
    std::vector<std::string> only;                  // names to run; empty: all networks (not "generation")
    std::vector<std::string> dtypes = {"float32", "bfloat16"};
    std::optional<bool> channels_last;              // unset: both for convolutional networks
    int width = 512, height = 512;
    int batch = 2;                                  // UNet batch (2 = classifier-free guidance)
    int repeat = 3;
    int steps = 20;                                 // generation: DDIM steps
};

struct BenchResult {
    std::string name;  // unet_forward, vae_decode, vae_encode, text_encoder, image_encoder, generation
    std::string dtype;
    bool channels_last = false;
    int width = 0, height = 0, batch = 0;
    double seconds_median = 0, seconds_min = 0, seconds_max = 0;
    double peak_rss_mb = 0;  // resident set high-water mark during this benchmark
    double gflop = 0;        // work of one run (multiply-adds count 2)
    double gflops = 0;       // achieved rate at the median
    int steps = 0;                 // generation: denoising steps
    double seconds_per_step = 0;   // generation: denoising time / steps
};

struct BenchReport {
    std::map<std::string, std::string> machine;
    std::vector<BenchResult> results;
};

// Runs the selected benchmarks, reporting each result as soon as it is measured.
BenchReport run_benchmarks(const BenchOptions& options, const std::function<void(const BenchResult&)>& on_result = {});


}  // namespace ips
