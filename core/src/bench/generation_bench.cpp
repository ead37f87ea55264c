// The "generation" benchmark: a whole 20-step txt2img with IP-Adapter base at SD1.5 sizes on random
// weights, through the same engine as real generations (the random networks are installed in its model
// cache; the adapter is a random file loaded the normal way), then the fast presets on the warm engine.
#include "bench/generation_bench.h"

#include "bench/peak_memory.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include "io/configs.h"
#include "io/json_file.h"
#include "io/weights.h"
#include "ips/png_file.h"
#include "nn/default_dtype.h"
#include "nn/packed_conv.h"
#include "ips/errors.h"
#include "pipeline/engine.h"

namespace ips::bench {

namespace fs = std::filesystem;

// Random weights drawn in place, in the module's own precision (built with nn::build_in): no
// second copy and no float32 temporaries, whose freed memory would stay in the process and inflate the
// benchmark's peak RSS beyond what the real networks take.
void randomise(torch::nn::Module& m, bool channels_last) {
    torch::NoGradGuard guard;
    // A generator of its own: the same weights every run (and no defaulted optional generator, which
    // GCC 12's -Wmaybe-uninitialized misreads in the sanitizer build).
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
    for (auto& p : m.parameters()) {
        p.normal_(0.0, 0.02, generator);
        if (channels_last && p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    }
    m.eval();
}

// An IP-Adapter base file with random weights for the SD1.5 UNet's 16 cross-attention layers.
fs::path write_random_adapter(const fs::path& folder, nn::UNet2DConditionModelImpl& unet, std::int64_t embeds_dim) {
    const std::int64_t cross = unet.config.cross_attention_dim[0];
    std::map<std::string, at::Tensor> t{{"image_proj.proj.weight", at::randn({4 * cross, embeds_dim}) * 0.02},
                                        {"image_proj.proj.bias", at::zeros({4 * cross})},
                                        {"image_proj.norm.weight", at::ones({cross})},
                                        {"image_proj.norm.bias", at::zeros({cross})}};
    auto layers = unet.cross_attention_layers();
    const auto order = ipadapter::adapter_layer_order(unet.cross_attention_layer_names());
    for (std::size_t k = 0; k < order.size(); ++k) {
        const auto inner = layers[order[k]]->to_k->weight.size(0);
        for (const char* kv : {"to_k_ip", "to_v_ip"})
            t["ip_adapter." + std::to_string(2 * k + 1) + "." + kv + ".weight"] = at::randn({inner, cross}) * 0.02;
    }
    const fs::path file = folder / "random-ip-adapter_sd15.safetensors";
    io::save_safetensors(file, t);
    return file;
}

Image reference_picture() {
    Image reference;
    reference.width = reference.height = 256;
    reference.pixels.resize(256 * 256 * 3);
    for (std::size_t i = 0; i < reference.pixels.size(); ++i) reference.pixels[i] = static_cast<std::uint8_t>((i * 37) % 251);
    return reference;
}

GenerationRequest plain_request(const BenchOptions& o, const fs::path& model, const std::string& dtype_name, const fs::path& adapter,
                                const fs::path& image_encoder, const ImageSource& reference) {
    GenerationRequest q;
    q.model = model;
    q.prompt = "a photo of a cat";
    q.width = o.width;
    q.height = o.height;
    q.num_inference_steps = o.steps;
    q.seed = 1;
    q.scheduler = "ddim";
    q.dtype = dtype_name;
    IpAdapterSettings ip;
    ip.path = adapter;
    ip.image_encoder = image_encoder;
    ip.images = {reference};
    ip.scale = 0.6;
    q.ip_adapters = {ip};
    return q;
}

namespace {

// What a preset changes in the plain request. A speed LoRA (LCM-LoRA, Hyper-SD) is merged into the weights
// before the first step and costs nothing per step, so the presets run the random base weights as they are.
struct PresetSettings {
    BenchPreset info;
    std::string scheduler, spacing;
    int steps;
    double guidance;
    std::optional<DeepCacheSettings> deep_cache;
    bool draft_decode = false;  // the final decode by TAESD
};
const std::vector<PresetSettings>& preset_settings() {
    static const std::vector<PresetSettings> presets{
        {{"lcm4", "LCM 4 steps, guidance 1 (one UNet pass per step), as with LCM-LoRA"}, "lcm", "", 4, 1.0, std::nullopt},
        {{"lcm4-deepcache2", "lcm4 with DeepCache interval 2, branch 0"}, "lcm", "", 4, 1.0, DeepCacheSettings{2, 0}},
        {{"lcm4-taesd", "lcm4 with the final picture decoded by TAESD (a draft)"}, "lcm", "", 4, 1.0, std::nullopt, true},
        {{"lcm4-taesd-deepcache2", "lcm4-taesd with DeepCache interval 2, branch 0"}, "lcm", "", 4, 1.0, DeepCacheSettings{2, 0}, true},
        {{"hyper8cfg", "Euler, trailing spacing, 8 steps, guidance 3.5, as with Hyper-SD15 8-step CFG"}, "euler", "trailing", 8, 3.5,
         std::nullopt},
        {{"ddim20-deepcache3", "the plain 20-step DDIM run with DeepCache interval 3, branch 0"}, "ddim", "", 20, 7.5,
         DeepCacheSettings{3, 0}},
    };
    return presets;
}

// One setting over several rounds: the round with the median total (its steps, encoders and decode), the
// fastest and slowest totals, the highest peak RSS.
BenchResult median_of_rounds(std::vector<BenchResult> runs) {
    std::sort(runs.begin(), runs.end(), [](const BenchResult& a, const BenchResult& b) { return a.seconds_median < b.seconds_median; });
    BenchResult r = runs[runs.size() / 2];
    r.seconds_min = runs.front().seconds_median;
    r.seconds_max = runs.back().seconds_median;
    for (const auto& run : runs) r.peak_rss_mb = std::max(r.peak_rss_mb, run.peak_rss_mb);
    return r;
}

const PresetSettings& preset_named(const std::string& name) {
    for (const auto& p : preset_settings())
        if (p.info.name == name) return p;
    std::string known;
    for (const auto& p : preset_settings()) known += (known.empty() ? "" : ", ") + p.info.name;
    throw InputError("--preset " + name + ": expected one of " + known);
}

}  // namespace

void run_generation_bench(const BenchOptions& o, at::ScalarType dtype, const std::string& dtype_name,
                          const std::function<void(const BenchResult&)>& on_result) {
    for (const auto& name : o.presets) (void)preset_named(name);  // a bad name is refused before any work
    for (const auto& mode : o.packed_conv)
        if (mode != "on" && mode != "off") throw InputError("--packed-conv " + mode + ": expected on or off");
    const fs::path root = o.config_root;
    const fs::path scratch = fs::temp_directory_path() / ("ipstudio-bench-" + std::to_string(::getpid()));
    fs::create_directories(scratch);
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(p, ec);
        }
    } cleanup{scratch};

    pipeline::Engine engine(PipelineOptions{root, 0});
    const fs::path taesd_folder = scratch / "taesd";  // a random TAESD decoder is served as if loaded from here
    fs::create_directories(taesd_folder);
    const bool channels_last = dtype == at::kBFloat16;
    fs::path adapter;
    {
        c10::InferenceMode off(false);
        auto base = std::make_unique<pipeline::BaseModel>();
        base->key = pipeline::model_key(root, dtype);
        base->unet = nn::build_in<nn::UNet2DConditionModel>(dtype, io::load_config<io::UNet2DConditionModelConfig>(root / "unet" / "config.json"));
        randomise(*base->unet, channels_last);
        base->vae = nn::AutoencoderKL(io::load_config<io::AutoencoderKLConfig>(root / "vae" / "config.json"));
        randomise(*base->vae, false);
        base->text_encoder = nn::build_in<nn::CLIPTextModel>(dtype, io::load_config<io::CLIPTextConfig>(root / "text_encoder" / "config.json"));
        randomise(*base->text_encoder, false);
        pipeline::add_fast_decoder(*base, dtype);
        base->tokenizer.emplace(ClipTokenizer::from_folder(root / "tokenizer"));
        base->scheduler_config = io::read_json_file(root / "scheduler" / "scheduler_config.json");
        auto vision_config = io::load_config<io::CLIPVisionConfig>(root / "image_encoder" / "config.json");
        auto vision = nn::build_in<nn::CLIPVisionModelWithProjection>(dtype, vision_config);
        randomise(*vision, false);
        const fs::path encoder_folder = root / "image_encoder";
        engine.models().install_encoder(encoder_folder, dtype,
                                        std::make_unique<ipadapter::ImageEncoder>(vision, image::ClipImageProcessorConfig{},
                                                                                  pipeline::model_key(encoder_folder, dtype)));
        adapter = write_random_adapter(scratch, *base->unet, vision_config.projection_dim);
        auto taesd = nn::build_in<nn::TinyDecoder>(dtype, io::AutoencoderTinyConfig{});
        randomise(*taesd, channels_last);
        engine.models().install_preview_decoder(taesd_folder, dtype, taesd);
        engine.models().install_base(std::move(base));
    }
    const GenerationRequest q =
        plain_request(o, root, dtype_name, adapter, root / "image_encoder", {{}, std::make_shared<Image>(reference_picture())});

    const auto run = [&](const std::string& name, const GenerationRequest& request) {
        reset_peak_rss();
        double encode_start = 0, denoise_start = 0, denoise_end = 0, decode_start = 0;
        const auto start = std::chrono::steady_clock::now();
        engine.generate(request, [&](const GenerationProgress& p) {
            if (p.stage == "encoding") encode_start = p.elapsed_seconds;
            if (p.stage == "denoising" && p.step == 0) denoise_start = p.elapsed_seconds;
            if (p.stage == "denoising" && p.step == p.total) denoise_end = p.elapsed_seconds;
            if (p.stage == "decoding") decode_start = p.elapsed_seconds;
        }, nullptr);
        const auto end = std::chrono::steady_clock::now();
        const double seconds = std::chrono::duration<double>(end - start).count();

        BenchResult r{"generation", dtype_name, channels_last, o.width, o.height, request.guidance_scale > 1 ? 2 : 1};
        r.seconds_median = r.seconds_min = r.seconds_max = seconds;
        r.steps = request.num_inference_steps;
        r.seconds_per_step = (denoise_end - denoise_start) / r.steps;
        r.preset = name;
        r.seconds_encoding = denoise_start - encode_start;
        r.seconds_decoding = seconds - decode_start;  // the progress clock starts with generate, as `start` does
        r.peak_rss_mb = peak_rss_mb();
        return r;
    };
    // One round: the plain run, then each preset (with and without packed weights where asked).
    std::vector<std::vector<BenchResult>> rounds;
    for (int round = 0; round < std::max(1, o.rounds); ++round) {
        std::vector<BenchResult> results;
        const auto add = [&](BenchResult r) {
            if (o.rounds <= 1 && on_result) on_result(r);  // one round: each as soon as it is measured
            results.push_back(std::move(r));
        };
        add(run("ddim" + std::to_string(o.steps), q));
        for (const auto& name : o.presets) {
            const PresetSettings& p = preset_named(name);
            GenerationRequest fast = q;
            fast.scheduler = p.scheduler;
            fast.timestep_spacing = p.spacing;
            fast.num_inference_steps = p.steps;
            fast.guidance_scale = p.guidance;
            fast.deep_cache = p.deep_cache;
            if (p.draft_decode) {
                fast.preview_decoder = taesd_folder;
                fast.draft_decode = true;
            }
            if (o.packed_conv.empty()) add(run(name, fast));
            for (const auto& mode : o.packed_conv) {
                nn::set_packed_conv_enabled(mode == "on");
                add(run(o.packed_conv.size() > 1 ? name + (mode == "on" ? " packed" : " unpacked") : name, fast));
            }
        }
        rounds.push_back(std::move(results));
    }
    nn::set_packed_conv_enabled(nn::packed_conv_default());
    if (rounds.size() > 1 && on_result)
        for (std::size_t i = 0; i < rounds[0].size(); ++i) {
            std::vector<BenchResult> runs;
            std::vector<double> speedups;
            for (const auto& results : rounds) {
                runs.push_back(results[i]);
                speedups.push_back(results[0].seconds_median / results[i].seconds_median);  // [0]: the plain run
            }
            BenchResult r = median_of_rounds(runs);
            if (i > 0) {
                std::sort(speedups.begin(), speedups.end());
                r.speedup_per_round = speedups[speedups.size() / 2];
            }
            on_result(r);
        }
}

}  // namespace ips::bench

namespace ips {

const std::vector<BenchPreset>& bench_presets() {
    static const std::vector<BenchPreset> list = [] {
        std::vector<BenchPreset> names;
        for (const auto& p : bench::preset_settings()) names.push_back(p.info);
        return names;
    }();
    return list;
}

}  // namespace ips
