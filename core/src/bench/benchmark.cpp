// ipstudio-cli bench: real SD1.5 sizes, random weights, each precision and memory layout.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include <unistd.h>

#include <ATen/Parallel.h>
#include <torch/nn.h>
#include <torch/version.h>

#include "bench/flops.h"
#include "bench/generation_bench.h"
#include "bench/peak_memory.h"
#include "io/json_file.h"
#include "io/weights.h"
#include "lora/lora_model.h"
#include "ips/bench.h"
#include "ips/errors.h"
#include "nn/attention.h"
#include "nn/autoencoder_kl.h"
#include "nn/clip_models.h"
#include "nn/tiny_autoencoder.h"
#include "nn/unet_2d_condition.h"
#include "nn/upsample_conv.h"

namespace ips {

namespace bench {
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

double peak_rss_mb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return 0;
}

}  // namespace bench
using bench::peak_rss_mb;
using bench::reset_peak_rss;

namespace {

namespace fs = std::filesystem;

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
}

std::string cpu_flags_of_interest() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::string found;
        for (const char* f : {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
            if (line.find(std::string(" ") + f) != std::string::npos) found += (found.empty() ? "" : " ") + std::string(f);
        return found;
    }
    return "";
}

at::ScalarType parse_dtype(const std::string& name) {
    if (name == "float32") return at::kFloat;
    if (name == "bfloat16") return at::kBFloat16;
    if (name == "float16") return at::kHalf;
    throw InputError("--dtype " + name + ": expected float32, bfloat16 or float16");
}

// Random weights in the target precision and layout.
void prepare(torch::nn::Module& module, at::ScalarType dtype, bool channels_last) {
    module.to(dtype);
    module.eval();
    if (!channels_last) return;
    torch::NoGradGuard guard;
    for (auto& p : module.parameters())
        if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
}

at::Tensor layout(const at::Tensor& t, bool channels_last) {
    return channels_last ? t.contiguous(at::MemoryFormat::ChannelsLast) : t;
}

// The attention paths to time for a network in `dtype` (bfloat16 only: float32 is always plain).
std::vector<std::pair<nn::AttentionKernel, std::string>> attention_paths(const BenchOptions& o, at::ScalarType dtype) {
    if (dtype != at::kBFloat16) return {{nn::AttentionKernel::plain, "plain"}};
    std::vector<std::pair<nn::AttentionKernel, std::string>> paths;
    for (const auto& a : o.attention) {
        if (a == "fused") paths.emplace_back(nn::AttentionKernel::automatic, nn::automatic_attention_path());
        else if (a == "plain") paths.emplace_back(nn::AttentionKernel::plain, "plain");
        else if (a == "amx") paths.emplace_back(nn::AttentionKernel::fused_amx_bf16, "fused amx_bf16");
        else if (a == "avx512") paths.emplace_back(nn::AttentionKernel::fused_avx512_bf16, "fused avx512_bf16");
        else if (a == "portable") paths.emplace_back(nn::AttentionKernel::fused_portable, "fused portable");
        else throw InputError("--attention " + a + ": expected fused, plain, amx, avx512 or portable");
    }
    return paths;
}

// Restores automatic attention however a benchmark ends.
struct AttentionScope {
    explicit AttentionScope(nn::AttentionKernel k) { nn::set_attention_kernel(k); }
    ~AttentionScope() { nn::set_attention_kernel(nn::AttentionKernel::automatic); }
};

// The upsampling paths to time (--upsample); one default entry ("") when none was asked for.
std::vector<std::string> upsample_paths(const BenchOptions& o) {
    for (const auto& u : o.upsample)
        if (u != "phase" && u != "plain") throw InputError("--upsample " + u + ": expected phase or plain");
    return o.upsample.empty() ? std::vector<std::string>{""} : o.upsample;
}

// Sets the upsampling path for one benchmark and restores the default (phase) however it ends.
struct UpsampleScope {
    explicit UpsampleScope(const std::string& path) { nn::set_phase_upsampling_enabled(path != "plain"); }
    ~UpsampleScope() { nn::set_phase_upsampling_enabled(true); }
};

// A kohya LoRA as the common SD1.5 ones are: rank 64, float16, every attention projection, feed-forward and
// proj_in/proj_out of the UNet and every text-encoder attention/MLP layer (about 150 MB at SD1.5 sizes).
void write_bench_lora(const fs::path& file, nn::UNet2DConditionModelImpl& unet, nn::CLIPTextModelImpl& text) {
    std::map<std::string, at::Tensor> tensors;
    const std::int64_t rank = 64;
    auto add = [&](const std::string& prefix, const lora::LoraTargets& t, const std::vector<std::string>& parts) {
        for (const auto& [module, shape] : t.weights) {
            if (std::none_of(parts.begin(), parts.end(), [&](const std::string& p) { return module.find(p) != std::string::npos; }))
                continue;
            const std::string k = prefix + lora::flatten_module_name(module);
            std::vector<std::int64_t> down = {rank, shape[1]}, up = {shape[0], rank};
            if (shape.size() == 4) down.insert(down.end(), {shape[2], shape[3]}), up.insert(up.end(), {1, 1});
            tensors[k + ".lora_down.weight"] = (at::randn(down) * 0.01).to(at::kHalf);
            tensors[k + ".lora_up.weight"] = (at::randn(up) * 0.01).to(at::kHalf);
            tensors[k + ".alpha"] = at::scalar_tensor(32.0).to(at::kHalf);
        }
    };
    add("lora_unet_", lora::unet_targets(unet), {".attn1.to_", ".attn2.to_", ".ff.net.", ".proj_in", ".proj_out"});
    add("lora_te_", lora::text_encoder_targets(text), {".self_attn.", ".mlp.fc"});
    io::save_safetensors(file, tensors);
}

class Runner {
public:
    Runner(const BenchOptions& o, const std::function<void(const BenchResult&)>& cb, BenchReport& report)
        : options_(o), callback_(cb), report_(report) {}

    bool wanted(const std::string& name) const {
        return options_.only.empty() || std::find(options_.only.begin(), options_.only.end(), name) != options_.only.end();
    }
    std::vector<bool> layouts(bool convolutional) const {
        if (!convolutional) return {false};
        if (options_.channels_last) return {*options_.channels_last};
        return {false, true};
    }

    // Times `run` (one warm-up, then `repeat` runs) and records the result. `after`, when given, runs
    // after each `run` outside the clock (to undo what `run` did).
    void measure(BenchResult r, const std::function<void()>& run, const std::function<void()>& after = {}) {
        reset_peak_rss();
        run();
        if (after) after();
        std::vector<double> seconds;
        for (int i = 0; i < std::max(1, options_.repeat); ++i) {
            const auto start = std::chrono::steady_clock::now();
            run();
            seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            if (after) after();
        }
        std::sort(seconds.begin(), seconds.end());
        r.seconds_min = seconds.front();
        r.seconds_max = seconds.back();
        r.seconds_median = seconds[seconds.size() / 2];
        r.peak_rss_mb = peak_rss_mb();
        r.gflops = r.gflop / r.seconds_median;
        report_.results.push_back(r);
        if (callback_) callback_(r);
    }

private:
    const BenchOptions& options_;
    const std::function<void(const BenchResult&)>& callback_;
    BenchReport& report_;
};

}  // namespace

double process_peak_rss_mb() { return bench::peak_rss_mb(); }

BenchReport run_benchmarks(const BenchOptions& o, const std::function<void(const BenchResult&)>& on_result) {
    const std::set<std::string> known = {"unet_forward", "vae_decode", "preview_decode", "vae_encode", "text_encoder", "image_encoder",
                                         "generation", "lora"};
    for (const auto& name : o.only)
        if (!known.count(name))
            throw InputError("--only " + name +
                             ": expected unet_forward, vae_decode, preview_decode, vae_encode, text_encoder, image_encoder, generation or lora");
    if (o.width % 8 != 0 || o.height % 8 != 0 || o.width < 64 || o.height < 64)
        throw InputError("--size " + std::to_string(o.width) + "x" + std::to_string(o.height) + ": width and height must be multiples of 8, at least 64");
    std::vector<at::ScalarType> dtypes;
    for (const auto& d : o.dtypes) dtypes.push_back(parse_dtype(d));
    for (const auto dtype : dtypes) attention_paths(o, dtype);  // reject a bad --attention before any work
    upsample_paths(o);                                              // and a bad --upsample

    const auto unet_config = io::load_config<io::UNet2DConditionModelConfig>(o.config_root / "unet" / "config.json");
    const auto vae_config = io::load_config<io::AutoencoderKLConfig>(o.config_root / "vae" / "config.json");
    const auto text_config = io::load_config<io::CLIPTextConfig>(o.config_root / "text_encoder" / "config.json");
    const auto vision_config = io::load_config<io::CLIPVisionConfig>(o.config_root / "image_encoder" / "config.json");

    BenchReport report;
    report.machine = {{"cpu", cpu_model()},
                      {"cpu_features", cpu_flags_of_interest()},
                      {"hardware_threads", std::to_string(std::thread::hardware_concurrency())},
                      {"torch_threads", std::to_string(at::get_num_threads())},
                      {"torch_version", TORCH_VERSION}};
    Runner runner(o, on_result, report);
    c10::InferenceMode inference;
    at::manual_seed(0);
    const std::int64_t lh = o.height / 8, lw = o.width / 8;

    // What this machine can do, timed in the same run so the networks' rates can be read against it (not
    // for LoRA merging alone: it has no rate to read, and the peaks take a minute where bfloat16 is emulated).
    const bool lora_only = !o.only.empty() && std::all_of(o.only.begin(), o.only.end(), [](const std::string& n) { return n == "lora"; });
    if (!lora_only) {
        const at::Tensor x = at::randn({2, 640, 64, 64}).to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
        const at::Tensor w = at::randn({640, 640, 3, 3}).to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
        BenchResult r{"peak_conv", "bfloat16", true, 64, 64, 2};
        r.gflop = 2.0 * 2 * 640 * 640 * 9 * 64 * 64 / 1e9;
        runner.measure(r, [&] { at::conv2d(x, w, {}, 1, 1); });
        report.peak_conv_gflops = report.results.back().gflops;
        const at::Tensor a = at::randn({4096, 4096}).to(at::kBFloat16), b = at::randn({4096, 4096}).to(at::kBFloat16);
        BenchResult m{"peak_matmul", "bfloat16", false, 4096, 4096, 1};
        m.gflop = 2.0 * 4096.0 * 4096.0 * 4096.0 / 1e9;
        runner.measure(m, [&] { at::matmul(a, b); });
        report.peak_matmul_gflops = report.results.back().gflops;
    }

    for (const auto dtype : dtypes) {
        const std::string dname = dtype == at::kFloat ? "float32" : dtype == at::kBFloat16 ? "bfloat16" : "float16";
        if (runner.wanted("unet_forward")) {
            for (bool cl : runner.layouts(true)) {
                nn::UNet2DConditionModel unet(unet_config);
                prepare(*unet, dtype, cl);
                nn::UNetInputs in;
                in.sample = layout(at::randn({o.batch, unet_config.in_channels, lh, lw}).to(dtype), cl);
                in.timestep = at::scalar_tensor(500);
                in.encoder_hidden_states = at::randn({o.batch, 77, unet_config.cross_attention_dim[0]}).to(dtype);
                for (const auto& [kernel, path] : attention_paths(o, dtype))
                    for (const auto& upsample : upsample_paths(o)) {
                        AttentionScope scope(kernel);
                        UpsampleScope upsampling(upsample);
                        BenchResult r{"unet_forward", dname, cl, o.width, o.height, o.batch};
                        r.attention = path;
                        r.upsample = upsample;
                        r.gflop = bench::unet_flops(unet_config, o.batch, lh, lw, 77) / 1e9;  // counted as written
                        runner.measure(r, [&] { unet->forward(in); });
                    }
            }
        }
        if (runner.wanted("vae_decode") || runner.wanted("vae_encode")) {
            for (bool cl : runner.layouts(true)) {
                nn::AutoencoderKL vae(vae_config);
                prepare(*vae, dtype, cl);
                if (runner.wanted("vae_decode")) {
                    const at::Tensor z = layout(at::randn({1, vae_config.latent_channels, lh, lw}).to(dtype), cl);
                    for (const auto& [kernel, path] : attention_paths(o, dtype))
                        for (const auto& upsample : upsample_paths(o)) {
                            AttentionScope scope(kernel);
                            UpsampleScope upsampling(upsample);
                            BenchResult r{"vae_decode", dname, cl, o.width, o.height, 1};
                            r.attention = path;
                            r.upsample = upsample;
                            r.gflop = bench::vae_decoder_flops(vae_config, 1, lh, lw) / 1e9;  // counted as written
                            runner.measure(r, [&] { vae->decode(z); });
                        }
                }
                if (runner.wanted("vae_encode")) {
                    const at::Tensor x = layout(at::rand({1, 3, o.height, o.width}).to(dtype) * 2 - 1, cl);
                    BenchResult r{"vae_encode", dname, cl, o.width, o.height, 1};
                    r.gflop = bench::vae_encoder_flops(vae_config, 1, o.height, o.width) / 1e9;
                    runner.measure(r, [&] { vae->encode(x); });
                }
            }
        }
        if (runner.wanted("preview_decode")) {
            // The TAESD decoder a live preview runs every few steps, against vae_decode's full decoder.
            const io::AutoencoderTinyConfig tiny_config;
            for (bool cl : runner.layouts(true)) {
                nn::TinyDecoder tiny(tiny_config);
                prepare(*tiny, dtype, cl);
                const at::Tensor z = layout(at::randn({1, tiny_config.latent_channels, lh, lw}).to(dtype), cl);
                BenchResult r{"preview_decode", dname, cl, o.width, o.height, 1};
                r.gflop = bench::tiny_decoder_flops(tiny_config, 1, lh, lw) / 1e9;
                runner.measure(r, [&] { tiny->forward(z); });
            }
        }
        if (runner.wanted("text_encoder")) {
            nn::CLIPTextModel text(text_config);
            prepare(*text, dtype, false);
            const at::Tensor ids = at::randint(0, text_config.vocab_size, {o.batch, 77}, at::kLong);
            BenchResult r{"text_encoder", dname, false, 0, 0, o.batch};
            r.attention = "plain";  // causal mask
            r.gflop = bench::clip_encoder_flops(o.batch, 77, text_config.hidden_size, text_config.intermediate_size,
                                                text_config.num_hidden_layers) / 1e9;
            runner.measure(r, [&] { text->encode_prompt(ids); });
        }
        if (runner.wanted("image_encoder")) {
            nn::CLIPVisionModelWithProjection vision(vision_config);
            prepare(*vision, dtype, false);
            const at::Tensor pixels = at::randn({1, 3, vision_config.image_size, vision_config.image_size}).to(dtype);
            const std::int64_t tokens = 1 + (vision_config.image_size / vision_config.patch_size) * (vision_config.image_size / vision_config.patch_size);
            BenchResult r{"image_encoder", dname, false, vision_config.image_size, vision_config.image_size, 1};
            r.attention = dtype == at::kBFloat16 ? nn::automatic_attention_path() : "plain";
            r.gflop = bench::clip_encoder_flops(1, tokens, vision_config.hidden_size, vision_config.intermediate_size,
                                                vision_config.num_hidden_layers) / 1e9;
            runner.measure(r, [&] { vision->forward(pixels); });
        }
    }
    // LoRA merging (writes a 150 MB file to the temporary folder): only when asked for by name.
    if (std::find(o.only.begin(), o.only.end(), "lora") != o.only.end()) {
        for (const auto dtype : dtypes) {
            const std::string dname = dtype == at::kFloat ? "float32" : "bfloat16";
            nn::UNet2DConditionModel unet(unet_config);
            prepare(*unet, dtype, dtype == at::kBFloat16);
            nn::CLIPTextModel text(text_config);
            prepare(*text, dtype, false);
            const fs::path file = fs::temp_directory_path() / ("ipstudio-bench-lora-" + std::to_string(::getpid()) + ".safetensors");
            write_bench_lora(file, *unet, *text);
            struct Remove {
                fs::path p;
                ~Remove() {
                    std::error_code ec;
                    fs::remove(p, ec);
                }
            } remove{file};
            // Reading + checking + merging into the base weights (removed again outside the clock).
            BenchResult load{"lora_load_apply", dname, dtype == at::kBFloat16, 0, 0, 1};
            std::unique_ptr<lora::LoraState> fresh;
            runner.measure(
                load,
                [&] {
                    fresh = std::make_unique<lora::LoraState>();
                    fresh->apply(*unet, text.get(), {{file, 0.8}});
                },
                [&] { fresh->apply(*unet, text.get(), {}); });
            // A weight change of a loaded LoRA: every touched weight re-merged from its original.
            lora::LoraState s;
            double w = 0.8;
            s.apply(*unet, text.get(), {{file, w}});
            BenchResult reweight{"lora_reweight", dname, dtype == at::kBFloat16, 0, 0, 1};
            runner.measure(reweight, [&] {
                w = w == 0.8 ? 0.5 : 0.8;
                s.apply(*unet, text.get(), {{file, w}});
            });
            BenchResult remove_r{"lora_remove_reapply", dname, dtype == at::kBFloat16, 0, 0, 1};
            runner.measure(remove_r, [&] {
                s.apply(*unet, text.get(), {});
                s.apply(*unet, text.get(), {{file, w}});  // back, for the next run
            });
        }
    }
    // A whole generation takes minutes: only when asked for by name.
    if (std::find(o.only.begin(), o.only.end(), "generation") != o.only.end()) {
        for (std::size_t i = 0; i < dtypes.size(); ++i) {
            for (const auto& [kernel, path] : attention_paths(o, dtypes[i])) {
                AttentionScope scope(kernel);
                const auto attention = path;
                bench::run_generation_bench(o, dtypes[i], o.dtypes[i], [&](const BenchResult& measured) {
                    BenchResult r = measured;
                    r.attention = attention;
                    report.results.push_back(r);
                    if (on_result) on_result(r);
                });
            }
        }
    }
    return report;
}

}  // namespace ips
