// ips::Pipeline: the public face of the engine.
#include <ATen/Parallel.h>
#include <cmath>
#include <mutex>
#include <thread>

#include "io/json_file.h"
#include "io/weights.h"
#include "ips/errors.h"
#include "ips/generation.h"
#include "ips/ip_adapter_options.h"
#include "ips/prompt_syntax.h"
#include "ips/runtime.h"
#include "pipeline/engine.h"
#include "schedulers/scheduler.h"

namespace ips {
namespace {

namespace fs = std::filesystem;

void require_file(const fs::path& p, const std::string& field, bool folder_ok) {
    std::error_code ec;
    if (p.empty()) throw InputError(field + " is required");
    if (!fs::exists(p, ec)) throw InputError(field + ": " + io::display_path(p) + " does not exist");
    if (!folder_ok && fs::is_directory(p, ec)) throw InputError(field + ": " + io::display_path(p) + " is a folder, expected a file");
}

void require_image(const ImageSource& s, const std::string& field) {
    if (s.empty()) throw InputError(field + ": no image given");
    if (s.image) {
        if (s.image->empty() || s.image->pixels.size() != static_cast<std::size_t>(s.image->width) * s.image->height * s.image->channels)
            throw InputError(field + ": the image in memory is empty or inconsistent");
        return;
    }
    require_file(s.path, field, false);
}

void require_range(double start, double end, const std::string& field) {
    if (!(start >= 0.0 && start < end && end <= 1.0))
        throw InputError(field + ": start and end must satisfy 0 <= start < end <= 1 (got " + std::to_string(start) + ", " +
                         std::to_string(end) + ")");
}

}  // namespace

void validate_request(const GenerationRequest& q) {
    require_file(q.model, "model", true);
    if (!q.vae.empty()) require_file(q.vae, "vae", true);
    if (!q.preview_decoder.empty()) require_file(q.preview_decoder, "preview_decoder", true);
    if (q.draft_decode && q.preview_decoder.empty())
        throw InputError("draft_decode needs a preview_decoder (a TAESD decoder such as madebyollin/taesd) to decode with");
    if (q.preview_every < 1) throw InputError("preview_every must be at least 1 (got " + std::to_string(q.preview_every) + ")");
    for (auto [value, name] : {std::pair{q.width, "width"}, std::pair{q.height, "height"}}) {
        if (value % 8 != 0 || value < 64 || value > 2048)
            throw InputError(std::string(name) + " must be a multiple of 8 between 64 and 2048 (got " + std::to_string(value) + ")");
    }
    if (q.num_inference_steps < 1 || q.num_inference_steps > 1000)
        throw InputError("num_inference_steps must be between 1 and 1000 (got " + std::to_string(q.num_inference_steps) + ")");
    if (!std::isfinite(q.guidance_scale) || q.guidance_scale < 0 || q.guidance_scale > 100)
        throw InputError("guidance_scale must be between 0 and 100");
    if (q.num_images_per_prompt < 1 || q.num_images_per_prompt > 16) throw InputError("num_images_per_prompt must be between 1 and 16");
    if (q.dtype != "float32" && q.dtype != "bfloat16") throw InputError("dtype must be float32 or bfloat16 (got '" + q.dtype + "')");
    if (!q.timestep_spacing.empty() && q.timestep_spacing != "leading" && q.timestep_spacing != "linspace" && q.timestep_spacing != "trailing")
        throw InputError("timestep_spacing must be leading, linspace or trailing (got '" + q.timestep_spacing + "')");
    if (!q.timestep_spacing.empty() && (q.scheduler == "lcm" || q.scheduler == "tcd"))
        throw InputError("timestep_spacing: " + q.scheduler + " takes its timesteps from original_inference_steps and has no spacing");
    const auto names = schedulers::scheduler_names();
    if (std::find(names.begin(), names.end(), q.scheduler) == names.end()) {
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        throw InputError("unknown scheduler '" + q.scheduler + "' (expected one of " + known + ")");
    }
    if (q.clip_skip && (*q.clip_skip < 0 || *q.clip_skip > 10)) throw InputError("clip_skip must be between 0 and 10");
    prompt_syntax_or_throw(q.prompt_syntax);
    if (!std::isfinite(q.eta) || q.eta < 0 || q.eta > 1) throw InputError("eta must be between 0 and 1");
    if (q.deep_cache && (q.deep_cache->interval < 1 || q.deep_cache->interval > q.num_inference_steps))
        throw InputError("deep_cache interval must be from 1 (a full pass every step) to the number of steps (" +
                         std::to_string(q.num_inference_steps) + "), got " + std::to_string(q.deep_cache->interval));
    if (q.strength && !q.init_image) throw InputError("strength needs an init_image (img2img or inpainting)");
    if (q.strength && !(*q.strength > 0.0 && *q.strength <= 1.0)) throw InputError("strength must be in (0, 1]");
    if (q.mask_image && !q.init_image) throw InputError("mask_image needs an init_image to paint into");
    if (q.init_image) require_image(*q.init_image, "init_image");
    if (q.mask_image) require_image(*q.mask_image, "mask_image");
    if (q.init_image && !q.mask_image && !q.latents_file.empty())
        throw InputError("latents cannot be combined with img2img (the init image sets the starting latents)");
    if (!q.latents_file.empty()) require_file(q.latents_file, "latents", false);
    for (std::size_t i = 0; i < q.ip_adapters.size(); ++i) {
        const auto& a = q.ip_adapters[i];
        const std::string where = "ip_adapters[" + std::to_string(i) + "]";
        if (a.path.empty()) throw InputError(where + ".path: no IP-Adapter file chosen");
        require_file(a.path, where + ".path", false);
        if (!a.image_encoder.empty()) require_file(a.image_encoder, where + ".image_encoder", true);
        if (a.images.empty()) throw InputError(where + ".images: at least one reference image is needed");
        for (std::size_t k = 0; k < a.images.size(); ++k) require_image(a.images[k], where + ".images[" + std::to_string(k) + "]");
        if (a.negative_image) require_image(*a.negative_image, where + ".negative_image");
        if (!a.image_weights.empty() && a.image_weights.size() != a.images.size())
            throw InputError(where + ".image_weights: " + std::to_string(a.image_weights.size()) + " weights for " +
                             std::to_string(a.images.size()) + " images");
        for (double w : a.image_weights)
            if (!std::isfinite(w)) throw InputError(where + ".image_weights must be finite");
        if (!a.image_crops.empty() && a.image_crops.size() != a.images.size())
            throw InputError(where + ".image_crops: " + std::to_string(a.image_crops.size()) + " crop modes for " +
                             std::to_string(a.images.size()) + " images");
        if (!a.regions.empty()) {
            if (a.regions.size() != a.images.size())
                throw InputError(where + ".regions: " + std::to_string(a.regions.size()) + " regions for " + std::to_string(a.images.size()) +
                                 " images (one region per image, in the same order)");
            for (std::size_t k = 0; k < a.regions.size(); ++k) require_image(a.regions[k], where + ".regions[" + std::to_string(k) + "]");
            if (a.combine_embeds != "concat" || canonical_ip_weight_type(a.mode) == "style and composition")
                throw InputError(where + ".regions: each image is attended in its own region, which needs combine_embeds concat "
                                 "and a weight type other than 'style and composition'");
        }
        if (!std::isfinite(a.scale)) throw InputError(where + ".scale must be finite");
        if (!a.block_scales_json.empty()) {
            const auto j = nlohmann::json::parse(a.block_scales_json, nullptr, false);
            if (j.is_discarded() || !j.is_object()) throw InputError(where + ".scale: the per-block scales must be a JSON object");
        }
        const std::string weight_type = canonical_ip_weight_type(a.mode);
        if (!is_ip_choice(ip_weight_types(), weight_type))
            throw InputError(where + ".weight_type must be " + ip_choice_list(ip_weight_types()) + " (got '" + a.mode + "')");
        if (weight_type == "style and composition" && a.images.size() != 2)
            throw InputError(where + ".weight_type 'style and composition' needs two reference images, the style then the "
                             "composition (got " + std::to_string(a.images.size()) + ")");
        if (!is_ip_choice(ip_combine_embeds_modes(), a.combine_embeds))
            throw InputError(where + ".combine_embeds must be " + ip_choice_list(ip_combine_embeds_modes()) + " (got '" + a.combine_embeds + "')");
        if (!is_ip_choice(ip_embeds_scaling_modes(), a.embeds_scaling))
            throw InputError(where + ".embeds_scaling must be " + ip_choice_list(ip_embeds_scaling_modes()) + " (got '" + a.embeds_scaling + "')");
        require_range(a.start, a.end, where);
    }
    for (std::size_t i = 0; i < q.loras.size(); ++i) {
        const std::string where = "loras[" + std::to_string(i) + "]";
        require_file(q.loras[i].path, where + ".path", false);
        if (!std::isfinite(q.loras[i].weight) || std::abs(q.loras[i].weight) > 10)
            throw InputError(where + ".weight must be between -10 and 10");
    }
    for (std::size_t i = 0; i < q.embeddings.size(); ++i) {
        const std::string where = "embeddings[" + std::to_string(i) + "]";
        require_file(q.embeddings[i].path, where + ".path", false);
        const auto& token = q.embeddings[i].token;
        if (token.find_first_of(" \t\n") != std::string::npos)
            throw InputError(where + ".token: '" + token + "' holds whitespace; a token is one word");
    }
    for (std::size_t i = 0; i < q.controlnets.size(); ++i) {
        const auto& c = q.controlnets[i];
        const std::string where = "controlnets[" + std::to_string(i) + "]";
        require_file(c.path, where + ".path", true);
        require_image(c.image, where + ".image");
        if (!std::isfinite(c.conditioning_scale)) throw InputError(where + ".conditioning_scale must be finite");
        require_range(c.start, c.end, where);
    }
}

void write_latents_file(const fs::path& file, const GenerationResult& result, bool overwrite) {
    if (result.latents.empty()) throw InputError("no latents to write");
    const at::Tensor t = at::tensor(result.latents, at::kFloat).view(result.latents_shape);
    io::save_safetensors(file, {{"latents", t}}, {{"format", "ipstudio.latents"}},
                         overwrite ? io::ExistingFile::Replace : io::ExistingFile::Keep);
}

struct Pipeline::Impl {
    explicit Impl(PipelineOptions o) : engine(std::move(o)) {}
    std::mutex mutex;  // one generation at a time; unload waits for it
    pipeline::Engine engine;
};

Pipeline::Pipeline(PipelineOptions options) {
    configure_runtime(options.threads);
    impl_ = std::make_unique<Impl>(std::move(options));
}
Pipeline::~Pipeline() = default;

GenerationResult Pipeline::generate(const GenerationRequest& request, const ProgressCallback& progress, const CancelToken* cancel) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->engine.generate(request, progress, cancel);
}

bool Pipeline::prepare_prompts(const GenerationRequest& request) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->engine.prepare_prompts(request);
}

void Pipeline::unload() {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->engine.unload();
}

}  // namespace ips
