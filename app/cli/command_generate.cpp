// ipstudio-cli generate [REQUEST.json] [flags] --output out.png
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli_args.h"
#include "library_output.h"
#include "ips/errors.h"
#include "ips/generation.h"
#include "ips/ip_adapter_options.h"
#include "ips/png_file.h"
#include "ips/prompt_syntax.h"
#include "ips/request_json.h"

namespace ipscli {
namespace {

namespace fs = std::filesystem;

fs::path path_arg(const std::string& s) { return fs::u8path(s); }

std::string utf8(const fs::path& p) {
    const auto u = p.u8string();
    return std::string(u.begin(), u.end());
}

double number_arg(const std::string& flag, const std::string& value) {
    try {
        std::size_t used = 0;
        const double v = std::stod(value, &used);
        if (used == value.size() && std::isfinite(v)) return v;
    } catch (...) {
    }
    throw UsageError{flag + " " + value + ": expected a number"};
}

long long integer_arg(const std::string& flag, const std::string& value) {
    try {
        std::size_t used = 0;
        const long long v = std::stoll(value, &used);
        if (used == value.size() && v >= -2147483647LL && v <= 2147483647LL) return v;
    } catch (...) {
    }
    throw UsageError{flag + " " + value + ": expected an integer (at most 2147483647)"};
}

// The file of image `i` of `n`: out.png, out-2.png, ...
fs::path output_for(const fs::path& output, std::size_t i) {
    if (i == 0) return output;
    return output.parent_path() / fs::u8path(utf8(output.stem()) + "-" + std::to_string(i + 1) + utf8(output.extension()));
}

std::string duration_text(double seconds) {
    const int s = static_cast<int>(std::lround(seconds));
    char buf[32];
    if (s >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%ds", s);
    return buf;
}

void apply_flags(const Args& a, ips::GenerationRequest& q) {
    if (auto v = a.value("--model")) q.model = path_arg(*v);
    if (auto v = a.value("--vae")) q.vae = path_arg(*v);
    if (auto v = a.value("--prompt")) q.prompt = *v;
    if (auto v = a.value("--negative-prompt")) q.negative_prompt = *v;
    if (auto v = a.value("--width")) q.width = static_cast<int>(integer_arg("--width", *v));
    if (auto v = a.value("--height")) q.height = static_cast<int>(integer_arg("--height", *v));
    if (auto v = a.value("--steps")) q.num_inference_steps = static_cast<int>(integer_arg("--steps", *v));
    if (auto v = a.value("--guidance")) q.guidance_scale = number_arg("--guidance", *v);
    if (auto v = a.value("--seed")) {
        std::size_t used = 0;
        unsigned long long seed = 0;
        try {
            seed = std::stoull(*v, &used);
        } catch (...) {
            used = 0;
        }
        if (used == 0 || used != v->size() || v->front() == '-') throw UsageError{"--seed " + *v + ": expected a non-negative integer"};
        q.seed = seed;
    }
    if (a.has("--random-seed")) q.seed.reset();
    if (auto v = a.value("--scheduler")) q.scheduler = *v;
    if (auto v = a.value("--timestep-spacing")) q.timestep_spacing = *v;
    if (auto v = a.value("--eta")) q.eta = number_arg("--eta", *v);
    if (auto v = a.value("--clip-skip")) q.clip_skip = static_cast<int>(integer_arg("--clip-skip", *v));
    if (auto v = a.value("--prompt-syntax")) q.prompt_syntax = *v;
    if (auto v = a.value("--batch")) q.num_images_per_prompt = static_cast<int>(integer_arg("--batch", *v));
    if (auto v = a.value("--dtype")) q.dtype = *v;
    if (auto v = a.value("--init-image")) q.init_image = ips::ImageSource{path_arg(*v), nullptr};
    if (auto v = a.value("--strength")) q.strength = number_arg("--strength", *v);
    if (auto v = a.value("--mask")) q.mask_image = ips::ImageSource{path_arg(*v), nullptr};
    if (auto v = a.value("--latents")) q.latents_file = path_arg(*v);
    if (auto v = a.value("--draft-decoder")) {
        q.preview_decoder = path_arg(*v);
        q.draft_decode = true;
    }
    if (auto v = a.value("--deep-cache")) {
        const int interval = static_cast<int>(integer_arg("--deep-cache", *v));
        if (interval == 0) q.deep_cache.reset();  // 0 turns off a preset's cache
        else q.deep_cache = ips::DeepCacheSettings{interval, q.deep_cache ? q.deep_cache->branch : 0};
    }
    if (auto v = a.value("--deep-cache-branch")) {
        if (!q.deep_cache) throw UsageError{"--deep-cache-branch needs --deep-cache N (or a preset with deep_cache)"};
        q.deep_cache->branch = static_cast<int>(integer_arg("--deep-cache-branch", *v));
    }

    // IP-Adapter flags act on the first adapter (created when the request has none).
    const bool any_ip = a.value("--ip-adapter") || !a.values("--ip-image").empty() || a.value("--ip-scale") ||
                        a.value("--ip-image-encoder") || a.value("--ip-mode") || a.value("--ip-crop") ||
                        a.value("--ip-weight-type") || a.value("--ip-combine") || a.value("--ip-embeds-scaling") ||
                        !a.values("--ip-mask").empty();
    if (any_ip) {
        if (q.ip_adapters.empty()) q.ip_adapters.emplace_back();
        auto& s = q.ip_adapters.front();
        if (auto v = a.value("--ip-adapter")) s.path = path_arg(*v);
        if (auto v = a.value("--ip-image-encoder")) s.image_encoder = path_arg(*v);
        const auto images = a.values("--ip-image");
        if (!images.empty()) {
            s.images.clear();
            for (const auto& i : images) s.images.push_back({path_arg(i), nullptr});
        }
        if (const auto masks = a.values("--ip-mask"); !masks.empty()) {
            s.regions.clear();  // one per --ip-image, in the same order
            for (const auto& m : masks) s.regions.push_back({path_arg(m), nullptr});
        }
        if (auto v = a.value("--ip-scale")) s.scale = number_arg("--ip-scale", *v), s.block_scales_json.clear();
        if (auto v = a.value("--ip-mode")) s.mode = *v;
        // ComfyUI_IPAdapter_plus's names, quoted where they hold spaces: --ip-weight-type "style transfer".
        auto choice = [](const std::string& flag, const std::string& v, const std::vector<ips::IpChoice>& choices) {
            if (!ips::is_ip_choice(choices, v)) throw UsageError{flag + " must be " + ips::ip_choice_list(choices) + " (got '" + v + "')"};
            return v;
        };
        if (auto v = a.value("--ip-weight-type"))
            s.mode = choice("--ip-weight-type", ips::canonical_ip_weight_type(*v), ips::ip_weight_types());
        if (auto v = a.value("--ip-combine")) s.combine_embeds = choice("--ip-combine", *v, ips::ip_combine_embeds_modes());
        if (auto v = a.value("--ip-embeds-scaling")) s.embeds_scaling = choice("--ip-embeds-scaling", *v, ips::ip_embeds_scaling_modes());
        if (auto v = a.value("--ip-crop")) {
            const auto crop = ips::parse_crop_mode(*v);
            if (!crop) throw UsageError{"--ip-crop must be center, pad or squash"};
            s.crop = *crop;
        }
    }
    if (const auto loras = a.values("--lora"); !loras.empty()) {
        q.loras.clear();  // the flags replace a preset's list
        for (const auto& v : loras) {
            // PATH[:WEIGHT]: a trailing ":number" is the weight (paths may hold ':' themselves).
            ips::LoraSettings l;
            l.path = path_arg(v);
            const auto colon = v.rfind(':');
            if (colon != std::string::npos && colon + 1 < v.size()) {
                try {
                    std::size_t used = 0;
                    const double w = std::stod(v.substr(colon + 1), &used);
                    if (used == v.size() - colon - 1) l.path = path_arg(v.substr(0, colon)), l.weight = w;
                } catch (...) {
                }
            }
            q.loras.push_back(l);
        }
    }
    if (const auto embeddings = a.values("--embedding"); !embeddings.empty()) {
        q.embeddings.clear();  // the flags replace a preset's list
        for (const auto& v : embeddings) {
            // PATH[:TOKEN]: an existing file is a path as it is (paths may hold ':'); else the text after
            // the last ':' is the token.
            ips::EmbeddingSettings e;
            e.path = path_arg(v);
            std::error_code ec;
            const auto colon = v.rfind(':');
            if (!fs::is_regular_file(e.path, ec) && colon != std::string::npos && colon > 0 && colon + 1 < v.size())
                e.path = path_arg(v.substr(0, colon)), e.token = v.substr(colon + 1);
            q.embeddings.push_back(e);
        }
    }
    if (a.value("--controlnet") || a.value("--control-image") || a.value("--control-scale")) {
        if (q.controlnets.empty()) q.controlnets.emplace_back();
        auto& c = q.controlnets.front();
        if (auto v = a.value("--controlnet")) c.path = path_arg(*v);
        if (auto v = a.value("--control-image")) c.image = {path_arg(*v), nullptr};
        if (auto v = a.value("--control-scale")) c.conditioning_scale = number_arg("--control-scale", *v);
    }
}

// The plain syntax reads 77 tokens (BOS and EOS included) and ignores the rest: say so instead of cutting
// silently. The tokenizer is the one the pipeline loads: the model folder's, or the configs' for a single file.
void warn_dropped_tokens(const ips::GenerationRequest& q, const fs::path& config_root) {
    if (q.prompt_syntax != "plain") return;
    std::error_code ec;
    const fs::path folder = fs::is_directory(q.model, ec) ? q.model / "tokenizer" : config_root / "tokenizer";
    std::optional<ips::ClipTokenizer> tokenizer;
    try {
        tokenizer.emplace(ips::ClipTokenizer::from_folder(folder));
    } catch (const ips::Error&) {
        return;  // the generation reports the missing tokenizer itself
    }
    for (const auto& [text, what] : {std::pair{&q.prompt, "prompt"}, std::pair{&q.negative_prompt, "negative prompt"}}) {
        const auto count = ips::count_prompt_tokens(*tokenizer, *text, ips::PromptSyntax::Plain);
        if (count.dropped_tokens > 0)
            std::cerr << "warning: the " << what << " is " << count.total_tokens + 2 << " tokens; the last " << count.dropped_tokens
                      << " are ignored (" << count.window << " is the limit without --prompt-syntax a1111)\n";
    }
}

}  // namespace

int run_generate(const std::vector<std::string>& argv) {
    const Args a(argv, {"--force", "--quiet", "--random-seed", "--to-library"},
                 {"--output", "--library", "--from-png", "--save-request", "--save-latents", "--model", "--vae", "--prompt", "--negative-prompt",
                  "--width", "--height", "--steps", "--guidance", "--seed", "--scheduler", "--timestep-spacing", "--eta", "--clip-skip", "--prompt-syntax", "--batch", "--dtype",
                  "--init-image", "--strength", "--mask", "--latents", "--deep-cache", "--deep-cache-branch", "--draft-decoder", "--ip-adapter", "--ip-image", "--ip-image-encoder",
                  "--ip-scale", "--ip-mode", "--ip-weight-type", "--ip-combine", "--ip-embeds-scaling", "--ip-crop", "--ip-mask", "--controlnet", "--control-image", "--control-scale", "--lora", "--embedding", "--threads",
                  "--configs"});
    if (a.positional().size() > 1) throw UsageError{"expected at most one REQUEST.json"};
    const auto output = a.value("--output");
    const auto library = library_folder(a);
    if (!output && !library) throw UsageError{"--output FILE.png (or --library DIR, --to-library) is required"};

    ips::GenerationRequest q;
    if (!a.positional().empty()) {
        q = ips::read_request_file(path_arg(a.positional().front()));
    } else if (auto png = a.value("--from-png")) {
        const auto text = ips::read_png_text(path_arg(*png));
        auto it = text.find("ipstudio_request");
        if (it == text.end()) throw ips::InputError(*png + ": has no IP Studio request (was it made by IP Studio?)");
        q = ips::parse_request_json(it->second, path_arg(*png).parent_path(), *png);
    }
    apply_flags(a, q);
    ips::validate_request(q);

    const fs::path out = output ? path_arg(*output) : fs::path();
    const bool force = a.has("--force");
    std::error_code ec;
    for (int i = 0; output && i < q.num_images_per_prompt; ++i)
        if (!force && fs::exists(output_for(out, static_cast<std::size_t>(i)), ec))
            throw ips::InputError(utf8(output_for(out, static_cast<std::size_t>(i))) + ": already exists (use --force to replace it)");
    for (const char* flag : {"--save-request", "--save-latents"})
        if (auto file = a.value(flag))
            if (!force && fs::exists(path_arg(*file), ec)) throw ips::InputError(*file + ": already exists (use --force to replace it)");

    ips::PipelineOptions options;
    options.config_root = a.value("--configs") ? path_arg(*a.value("--configs")) : default_configs();
    if (auto t = a.value("--threads")) options.threads = static_cast<int>(integer_arg("--threads", *t));
    warn_dropped_tokens(q, options.config_root);
    ips::Pipeline pipeline(options);

    const bool bar = !a.has("--quiet") && isatty(STDERR_FILENO);
    double denoise_start = -1;
    auto progress = [&](const ips::GenerationProgress& p) {
        if (a.has("--quiet")) return;
        if (p.stage != "denoising" || p.total == 0) {
            if (p.bytes_loaded > 0 && !bar) return;  // a log gets the stage once, not every 32 MB
            std::cerr << (bar ? "\r\033[K" : "") << p.stage << "...";
            if (p.bytes_loaded > 0) std::cerr << " " << (p.bytes_loaded >> 20) << " MB read";
            std::cerr << (bar ? "" : "\n") << std::flush;
            return;
        }
        if (!bar && p.step != p.total) return;
        const int width = 30, filled = p.total ? width * p.step / p.total : 0;
        // The ETA comes from the steps' own time: loading models and encoding are not step time.
        if (p.step == 0 || denoise_start < 0) denoise_start = p.elapsed_seconds;
        const double eta = p.step ? (p.elapsed_seconds - denoise_start) / p.step * (p.total - p.step) : 0;
        std::cerr << (bar ? "\r\033[K[" : "[") << std::string(filled, '#') << std::string(width - filled, '.') << "] " << p.step << "/"
                  << p.total << " steps, " << duration_text(p.elapsed_seconds) << " elapsed, ETA " << duration_text(eta)
                  << (bar ? "" : "\n") << std::flush;
    };
    const auto result = pipeline.generate(q, progress);
    if (bar) std::cerr << "\n";
    for (const auto& w : result.warnings) std::cerr << "warning: " << w << "\n";

    ips::GenerationRequest resolved = q;
    resolved.seed = result.seed;
    resolved.latents_file.clear();  // the PNG reproduces from the seed
    // The library keeps its own copy (inputs by content hash), as the window does.
    if (library)
        for (const fs::path& file : write_to_library(*library, q, result.images, result.seed)) std::cout << utf8(file) << "\n";
    const std::string request_json = output ? ips::request_to_json(resolved, fs::absolute(out).parent_path()) : std::string();
    for (std::size_t i = 0; output && i < result.images.size(); ++i) {
        const fs::path file = output_for(out, i);
        ips::write_png(file, result.images[i],
                       {{"parameters", ips::a1111_parameters(resolved, result.seed)}, {"ipstudio_request", request_json}}, force);
        std::cout << utf8(file) << "\n";
    }
    if (auto file = a.value("--save-request")) {
        ips::write_request_file(path_arg(*file), resolved, force);
    }
    if (auto file = a.value("--save-latents")) ips::write_latents_file(path_arg(*file), result, force);
    if (!a.has("--quiet"))
        std::cerr << "seed " << result.seed << ", " << duration_text(result.seconds) << " (" << result.seconds << " s)\n";
    return kOk;
}

}  // namespace ipscli
