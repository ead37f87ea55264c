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
    int steps = 20;                                 // generation: DDIM steps of the plain run
    // generation: rounds of the plain run and every preset, one after the other, each reported as the median
    // of its rounds (this machine's speed drifts between minutes: rounds spread that over every setting).
    int rounds = 1;
    // generation: settings timed after the plain run, on the same warm engine (bench_presets() lists them).
    std::vector<std::string> presets;
    // Attention paths for bfloat16 networks with attention, each timed: "fused" (the kernel for this
    // CPU) and "plain" (matmul + softmax, the reference's way). float32 always runs plain.
    std::vector<std::string> attention = {"fused", "plain"};
    // generation presets: each run once per entry, "on" (convolution weights packed once) and/or "off"
    // (LibTorch's own convolutions), one after the other on the same warm engine; empty: the default (on).
    std::vector<std::string> packed_conv;
    // unet_forward and vae_decode: each run once per entry, "phase" (a 2x upsampling and its 3x3 convolution
    // as four 2x2 phase convolutions, the default) and/or "plain" (the upsampled picture, then the convolution).
    std::vector<std::string> upsample;
};

struct BenchResult {
    std::string name;  // peak_conv, peak_matmul, unet_forward, vae_decode, vae_encode, text_encoder, image_encoder, generation
    std::string dtype;
    bool channels_last = false;
    int width = 0, height = 0, batch = 0;
    double seconds_median = 0, seconds_min = 0, seconds_max = 0;
    double peak_rss_mb = 0;  // resident set high-water mark during this benchmark
    double gflop = 0;        // work of one run (multiply-adds count 2)
    double gflops = 0;       // achieved rate at the median
    int steps = 0;                 // generation: denoising steps
    double seconds_per_step = 0;   // generation: denoising time / steps
    std::string preset = "";       // generation: "ddim20" (the plain run) or a preset's name
    double seconds_encoding = 0;   // generation: prompt and reference encoding (cached after the first run)
    double seconds_decoding = 0;   // generation: the final VAE decode
    // generation presets over several --rounds: the median over rounds of the plain run's time divided by
    // this preset's in the same round (a ratio of runs a minute apart); 0 otherwise.
    double speedup_per_round = 0;
    std::string attention = "-";   // "plain", "fused avx512_bf16", "fused portable"; "-": no attention
    std::string upsample = "";     // "phase" or "plain" where --upsample chose; "": the default (phase)
};

struct BenchReport {
    std::map<std::string, std::string> machine;
    double peak_conv_gflops = 0;    // this machine: a large bf16 channels-last 3x3 convolution, timed in the run
    double peak_matmul_gflops = 0;  // this machine: a 4096^3 bf16 matrix product, timed in the run
    std::vector<BenchResult> results;
};

// The generation presets `--preset` accepts, with what each sets.
struct BenchPreset {
    std::string name, description;
};
const std::vector<BenchPreset>& bench_presets();

// SD1.5-size random networks written as a user's files are laid out: a diffusers folder with fp16 safetensors
// (unet, vae, text_encoder, tokenizer, scheduler), the ViT-H image encoder (fp16), an IP-Adapter base file, a
// TAESD decoder (taesd/), a reference picture, and request.json running them (`options` size and steps, bfloat16, DDIM). About 3.5 GB.
// Returns the request's path. For timing a cold generation from files (ipstudio-cli bench --only files).
std::filesystem::path write_model_files(const BenchOptions& options, const std::filesystem::path& folder);

// This process's resident-set high-water mark in MB (Linux: VmHWM of /proc/self/status).
double process_peak_rss_mb();

// Runs the selected benchmarks (every run first times the machine's peaks, reported as "peak_conv" and
// "peak_matmul" results and in the report), reporting each result as soon as it is measured.
BenchReport run_benchmarks(const BenchOptions& options, const std::function<void(const BenchResult&)>& on_result = {});


}  // namespace ips
