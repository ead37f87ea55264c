#include "pipeline/engine.h"

#include <chrono>
#include <optional>
#include <random>

#include "image/image_io.h"
#include "io/json_file.h"
#include "io/weights.h"
#include "ipadapter/image_prompts.h"
#include "ipadapter/layer_scales.h"
#include "ips/errors.h"
#include "nn/cancel_point.h"
#include "pipeline/image_tensors.h"
#include "pipeline/ip_regions.h"
#include "pipeline/prompt_encoding.h"
#include "schedulers/scheduler.h"

namespace ips::pipeline {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string hash_key(const Image& image) { return ipadapter::ImageEmbeddingCache::key(image, "", CropMode::Center); }

bool is_embedding_file(const ImageSource& s) {
    if (s.path.empty()) return false;
    auto ext = s.path.extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext == ".safetensors";
}

// Repeats a [1, ...] tensor `copies` times along the batch.
at::Tensor repeat_batch(const at::Tensor& t, std::int64_t copies) {
    if (copies == 1) return t;
    std::vector<std::int64_t> reps(static_cast<std::size_t>(t.dim()), 1);
    reps[0] = copies;
    return t.repeat(reps);
}

at::Tensor read_latents_file(const fs::path& file, const std::vector<std::int64_t>& shape) {
    const std::string name = io::display_path(file);
    io::Weights w = io::load_user_tensors(file);
    auto it = w.tensors.find("latents");
    if (it == w.tensors.end()) throw InputError(name + ": no tensor named 'latents'");
    at::Tensor t = it->second.to(at::kFloat).clone();
    if (t.sizes().vec() != shape) {
        std::string want;
        for (auto d : shape) want += (want.empty() ? "" : "x") + std::to_string(d);
        throw InputError(name + ": latents must be " + want + " for this size and batch");
    }
    if (!at::isfinite(t).all().item<bool>()) throw InputError(name + ": latents hold NaN or infinity");
    return t;
}

// A tensor as a network of `dtype` takes it: bfloat16 networks run channels-last.
at::Tensor network_input(const at::Tensor& t, at::ScalarType dtype) {
    const at::Tensor converted = t.to(dtype);
    return dtype == at::kBFloat16 ? converted.contiguous(at::MemoryFormat::ChannelsLast) : converted;
}

// The bfloat16 copy of the VAE where there is one (its output checked), else the float32 VAE.
at::Tensor decode_latent(BaseModel& base, const at::Tensor& latent) {
    if (base.fast_decoder_vae) {
        const at::Tensor fast = base.fast_decoder_vae
                                    ->decode(network_input(latent, at::kBFloat16))
                                    .to(at::kFloat)
                                    .contiguous();
        if (at::isfinite(fast).all().item<bool>()) return fast;
    }
    return base.vae->decode(latent.to(at::kFloat));
}

// The first image of the estimate through the TAESD decoder, which reads the UNet's latents as they are.
Image tiny_preview(nn::TinyDecoder& decoder, const at::Tensor& latents, at::ScalarType dtype) {
    return to_images(decoder->forward(network_input(latents.narrow(0, 0, 1), dtype)).to(at::kFloat).contiguous()).front();
}

}  // namespace

Image load_source(const ImageSource& source, const std::string& what) {
    if (source.image) return image::to_rgb(*source.image, what);
    if (source.path.empty()) throw InputError(what + ": no image given");
    return image::read_image_rgb(source.path);
}

// Brings the weights to base + the request's LoRAs (only what changed; nothing on an error) and its
// textual-inversion embeddings (rows added to the token table, tokens to the tokenizer; none: the originals).
namespace {
void apply_weight_edits(BaseModel& base, const GenerationRequest& q) {
    std::vector<lora::LoraRequest> loras;
    for (const auto& l : q.loras) loras.push_back({l.path, l.weight});
    base.loras.apply(*base.unet, base.text_encoder.get(), loras);
    std::vector<text::EmbeddingRequest> embeddings;
    for (const auto& e : q.embeddings) embeddings.push_back({e.path, e.token});
    base.embeddings.apply(*base.tokenizer, *base.text_encoder, embeddings);
}
}  // namespace

Engine::Engine(PipelineOptions options) : options_(std::move(options)), models_(options_.config_root) {}

void Engine::unload() {
    models_.clear();
    text_windows_.clear();
    vae_cache_.clear();
    control_cache_.clear();
    embeddings_.clear();
}

Engine::TextEmbeddings Engine::text_embeddings(BaseModel& base, const GenerationRequest& q) {
    const int skip = q.clip_skip.value_or(0);
    const PromptSyntax syntax = prompt_syntax_or_throw(q.prompt_syntax);
    // The text encoder's weights as they are now: model and precision, merged LoRAs, added embeddings.
    const std::string state = base.key + "\x1f" + base.loras.signature() + "\x1f" + base.embeddings.signature();
    const WindowEncoder run = run_text_encoder(base.text_encoder);
    const WindowEncoder cached = [&](const text::TokenChunk& chunk, int clip_skip) {
        const std::string key = TextWindowCache::key(state, chunk.input_ids, clip_skip);
        if (at::Tensor hit = text_windows_.find(key); hit.defined()) return hit;
        ++text_encodes_;
        at::Tensor window = run(chunk, clip_skip);
        text_windows_.insert(key, window);
        return window;
    };
    // [1, 77 * chunks, C] each; the negative prompt without clip_skip, as diffusers does.
    auto pair = encode_prompt_pair_with(*base.tokenizer, cached, q.prompt, q.negative_prompt, skip, syntax);
    return {std::move(pair.cond), std::move(pair.uncond)};
}

bool Engine::prepare_prompts(const GenerationRequest& q) {
    const at::ScalarType dtype = q.dtype == "bfloat16" ? at::kBFloat16 : at::kFloat;
    if (!models_.has_base(q.model, dtype, q.vae)) return false;
    c10::InferenceMode guard;
    BaseModel& base = models_.base(q.model, dtype, q.vae);
    apply_weight_edits(base, q);
    text_embeddings(base, q);
    return true;
}

ipadapter::ImageEmbedding Engine::reference_embedding(const ImageSource& s, const fs::path& encoder, at::ScalarType dtype,
                                                      CropMode crop, const std::string& what) {
    if (is_embedding_file(s)) return ipadapter::load_image_embedding(s.path);
    if (encoder.empty()) throw InputError(what + ": an image encoder folder is needed to encode " + s.describe());
    return embeddings_.encode(
        model_key(encoder, dtype), [&]() -> ipadapter::ImageEncoder& { return models_.encoder(encoder, dtype); }, load_source(s, what),
        crop);
}

ipadapter::ImageEmbedding Engine::zero_image_embedding(const fs::path& encoder, at::ScalarType dtype) {
    const std::string key = model_key(encoder, dtype) + "|zero-image";
    if (auto hit = embeddings_.find(key)) return *hit;
    auto e = models_.encoder(encoder, dtype).encode_zero_image();
    embeddings_.insert(key, e);
    return e;
}

nn::LatentDistribution Engine::encode_image(BaseModel& base, const Image& image, const at::Tensor& pixels, const std::string& tag) {
    const std::string key = base.key + "|" + tag + "|" + hash_key(image) + "|" + std::to_string(pixels.size(2)) + "x" +
                            std::to_string(pixels.size(3));
    if (auto it = vae_cache_.find(key); it != vae_cache_.end()) return it->second;
    auto dist = base.vae->encode(pixels);
    ++vae_encodes_;
    if (vae_cache_.size() > 8) vae_cache_.clear();
    vae_cache_.emplace(key, dist);
    return dist;
}

// Progress and elapsed time for one generation.
struct Engine::Reporter {
    const ProgressCallback& progress;
    Clock::time_point started = Clock::now();
    double elapsed() const { return std::chrono::duration<double>(Clock::now() - started).count(); }
    void operator()(const std::string& stage, int step, int total, const Image* preview) const {
        if (progress) progress({stage, step, total, elapsed(), preview});
    }
};

void Engine::encode_references_before_base(const GenerationRequest& q, at::ScalarType dtype, Reporter& report) {
    if (options_.keep_image_encoders || q.ip_adapters.empty() || models_.has_base(q.model, dtype, q.vae)) return;
    report("loading models", 0, 0, nullptr);  // the image encoder loads now
    models_.drop_base();  // loading the requested base would free it anyway
    try {
        for (const auto& s : q.ip_adapters) {
            for (std::size_t k = 0; k < s.images.size(); ++k)
                reference_embedding(s.images[k], s.image_encoder, dtype, s.image_crops.empty() ? s.crop : s.image_crops[k], "");
            if (s.negative_image) reference_embedding(*s.negative_image, s.image_encoder, dtype, s.crop, "");
            else if (!s.image_encoder.empty() && ipadapter::file_uses_hidden_states(s.path)) zero_image_embedding(s.image_encoder, dtype);
        }
    } catch (const std::exception&) {
        // A missing picture, a wrong encoder: encode_conditioning meets the same error after the models
        // load and reports it there, as it does for warm runs.
    }
    models_.release_encoders();
}

Engine::LoadedModels Engine::load_models(const GenerationRequest& q, at::ScalarType dtype, Reporter& report) {
    // Loading reports the bytes of weights read (about every 32 MB): on a first run it is the longest stage,
    // and its time is never step time.
    report("loading models", 0, 0, nullptr);
    std::uint64_t bytes_loaded = 0, bytes_reported = 0;
    std::optional<nn::LoadProgressScope> loading(std::in_place, [&](std::uint64_t bytes) {
        bytes_loaded += bytes;
        if (report.progress && bytes_loaded - bytes_reported >= (32u << 20)) {
            bytes_reported = bytes_loaded;
            report.progress({"loading models", 0, 0, report.elapsed(), nullptr, bytes_loaded});
        }
    });
    LoadedModels m;
    m.base = &models_.base(q.model, dtype, q.vae);
    BaseModel& base = *m.base;
    apply_weight_edits(base, q);
    auto& unet = base.unet;
    const std::int64_t unet_channels = unet->config.in_channels;
    if (unet_channels == 9 && !q.mask_image)
        throw InputError(io::display_path(q.model) + ": an inpainting model (9 input channels) needs an init image and a mask");
    if (unet_channels != 4 && unet_channels != 9)
        throw InputError(io::display_path(q.model) + ": UNets with " + std::to_string(unet_channels) + " input channels are not supported");
    for (const auto& a : q.ip_adapters) {
        m.adapters.push_back(models_.adapter(a.path, dtype));
        if (!a.image_encoder.empty())
            ipadapter::check_image_encoder(*m.adapters.back(), models_.encoder_config(a.image_encoder, dtype),
                                           io::display_path(a.image_encoder));
    }
    for (const auto& c : q.controlnets) {
        m.controlnets.push_back(models_.controlnet(c.path, dtype));
        const auto& cn = m.controlnets.back()->unet_config;
        if (cn.cross_attention_dim != unet->config.cross_attention_dim || cn.block_out_channels != unet->config.block_out_channels ||
            cn.in_channels != 4)
            throw ModelLoadError(io::display_path(c.path) + ": this ControlNet is made for another base model (cross_attention_dim " +
                                 std::to_string(cn.cross_attention_dim.front()) + "; the base model has " +
                                 std::to_string(unet->config.cross_attention_dim.front()) + ")");
    }
    if (!q.preview_decoder.empty() && (report.progress || q.draft_decode)) {
        m.preview_decoder = models_.preview_decoder(q.preview_decoder, dtype);
        const int channels = m.preview_decoder->config.latent_channels;
        if (channels != base.vae->config.latent_channels)
            throw ModelLoadError(io::display_path(q.preview_decoder) + ": a TAESD decoder for " + std::to_string(channels) +
                                 "-channel latents; this model's latents have " + std::to_string(base.vae->config.latent_channels) +
                                 " (SD1.x: taesd, not taesd3/taef1)");
    }
    if (report.progress && bytes_loaded != bytes_reported) report.progress({"loading models", 0, 0, report.elapsed(), nullptr, bytes_loaded});
    return m;
}

Engine::Conditioning Engine::encode_conditioning(const GenerationRequest& q, LoadedModels& models, at::ScalarType dtype, Trace* trace) {
    BaseModel& base = *models.base;
    auto& unet = base.unet;
    Conditioning c;
    c.copies = q.num_images_per_prompt;
    if (const auto cond_dim = unet->config.time_cond_proj_dim) {
        // LatentConsistencyModelPipeline: the guidance goes in as an embedding of w = guidance - 1 (Imagen's CFG
        // formulation), one pass per step, and no negative prompt.
        c.cfg = false;
        c.timestep_cond = nn::get_guidance_scale_embedding(at::full({c.copies}, q.guidance_scale - 1.0, at::kFloat), *cond_dim).to(dtype);
        if (!q.negative_prompt.empty())
            c.warnings.push_back("the negative prompt has no effect: this UNet is a Latent Consistency Model, its guidance is built in");
    } else {
        c.cfg = q.guidance_scale > 1.0;
    }
    const auto text = text_embeddings(base, q);
    at::Tensor prompt_embeds = repeat_batch(text.cond, c.copies);
    if (c.cfg) prompt_embeds = at::cat({repeat_batch(text.uncond, c.copies), prompt_embeds});
    c.prompt_embeds = prompt_embeds.to(dtype);
    c.text_kv = unet->precompute_text_key_values(c.prompt_embeds);
    if (trace) trace->prompt_embeds = c.prompt_embeds;

    // Image encoders go once the references are encoded (before denoising), also when encoding fails.
    struct EncodersInUse {
        ModelCache& models;
        bool release;
        void done() {
            if (release) models.release_encoders();
            release = false;
        }
        ~EncodersInUse() { done(); }
    } encoders_in_use{models_, !options_.keep_image_encoders};
    std::vector<ipadapter::AdapterConditioning> conditioning;
    const auto layer_names = unet->cross_attention_layer_names();
    for (std::size_t i = 0; i < q.ip_adapters.size(); ++i) {
        const auto& s = q.ip_adapters[i];
        const std::string where = "ip_adapters[" + std::to_string(i) + "]";
        ipadapter::AdapterConditioning a;
        a.adapter = models.adapters[i];
        for (std::size_t k = 0; k < s.images.size(); ++k)
            a.images.push_back(reference_embedding(s.images[k], s.image_encoder, dtype, s.image_crops.empty() ? s.crop : s.image_crops[k],
                                                   where + ".images[" + std::to_string(k) + "]"));
        a.image_weights = s.image_weights;
        for (std::size_t k = 0; k < s.regions.size(); ++k) {
            const std::string what = where + ".regions[" + std::to_string(k) + "]";
            a.regions.push_back(region_mask(load_source(s.regions[k], what), q.width, q.height, what, c.warnings));
        }
        if (s.negative_image) {
            a.negative = reference_embedding(*s.negative_image, s.image_encoder, dtype, s.crop, where + ".negative_image");
        } else if (models.adapters[i]->uses_hidden_states()) {
            if (s.image_encoder.empty()) throw InputError(where + ": plus/full-face adapters need image_encoder for their unconditional input");
            a.negative = zero_image_embedding(s.image_encoder, dtype);
        }
        const auto scale = s.block_scales_json.empty() ? nlohmann::json(s.scale) : nlohmann::json::parse(s.block_scales_json);
        a.layer_scales = ipadapter::resolve_layer_scales(scale, s.mode, layer_names);
        a.weight_type = s.mode;
        a.combine_embeds = s.combine_embeds;
        a.embeds_scaling = s.embeds_scaling;
        a.start = s.start;
        a.end = s.end;
        if (trace) trace->ip_tokens.push_back(ipadapter::image_prompt_tokens(a));
        if (trace) trace->ip_regions.push_back(a.regions.empty() ? at::Tensor() : at::stack(a.regions).unsqueeze(0));
        conditioning.push_back(std::move(a));
    }
    c.image_prompts = ipadapter::PreparedImagePrompts(*unet, std::move(conditioning), {c.cfg, c.copies});
    encoders_in_use.done();

    for (const auto& cn : q.controlnets) {
        const Image picture = load_source(cn.image, "controlnet image");
        const std::string key = hash_key(picture) + "|" + std::to_string(q.width) + "x" + std::to_string(q.height);
        auto it = control_cache_.find(key);
        if (it == control_cache_.end()) {
            if (control_cache_.size() > 8) control_cache_.clear();
            it = control_cache_.emplace(key, control_input(picture, q.width, q.height)).first;
        }
        at::Tensor image = repeat_batch(it->second, c.copies);
        if (c.cfg) image = at::cat({image, image});
        c.control_images.push_back(image.to(dtype));
    }
    return c;
}

Engine::StartLatents Engine::prepare_latents(const GenerationRequest& q, BaseModel& base, const Conditioning& c,
                                             schedulers::Scheduler& scheduler, at::Generator& generator, at::ScalarType dtype) {
    const std::int64_t unet_channels = base.unet->config.in_channels;
    const bool inpainting = q.mask_image.has_value();
    const std::int64_t copies = q.num_images_per_prompt;
    const std::int64_t h = q.height / 8, w = q.width / 8;
    const std::vector<std::int64_t> shape{copies, 4, h, w};
    const double sf = base.vae->config.scaling_factor;
    StartLatents s;
    if (q.init_image) {
        const double strength = q.strength.value_or(inpainting ? 1.0 : 0.8);
        const int steps = q.num_inference_steps;
        const int init_timestep = std::min(static_cast<int>(steps * strength), steps);
        const int t_start = std::max(steps - init_timestep, 0);
        s.begin = static_cast<std::size_t>(t_start * scheduler.order());
        if (s.begin >= scheduler.size())
            throw InputError("strength " + std::to_string(strength) + " with " + std::to_string(steps) +
                             " steps leaves no denoising step; raise the strength or the steps");
        scheduler.set_begin_index(s.begin);
        const Image init = load_source(*q.init_image, "init_image");
        const at::Tensor init_pixels = vae_input(init, q.width, q.height);
        const bool strength_max = strength == 1.0;
        if (!inpainting) {
            s.image_latents = repeat_batch(encode_image(base, init, init_pixels, "init").sample(generator) * sf, copies);
            s.noise = at::randn(shape, generator, at::kFloat);
            s.latents = scheduler.add_noise(s.image_latents, s.noise, s.begin);
        } else {
            const Image mask_picture = load_source(*q.mask_image, "mask_image");
            const bool given = !q.latents_file.empty();
            if (unet_channels == 4 || (!given && !strength_max))
                s.image_latents = repeat_batch(encode_image(base, init, init_pixels, "init").sample(generator) * sf, copies);
            if (!given) {
                s.noise = at::randn(shape, generator, at::kFloat);
                s.latents = strength_max ? s.noise * scheduler.init_noise_sigma() : scheduler.add_noise(s.image_latents, s.noise, s.begin);
            } else {
                s.noise = read_latents_file(q.latents_file, shape);
                s.latents = s.noise * scheduler.init_noise_sigma();
            }
            const at::Tensor mask_pixels = mask_input(mask_picture, q.width, q.height);
            const at::Tensor masked = init_pixels * (mask_pixels < 0.5);
            s.mask = repeat_batch(at::upsample_nearest2d(mask_pixels, {h, w}), copies);
            if (unet_channels == 9) {
                const std::string tag = "masked|" + hash_key(mask_picture);
                s.masked_image_latents = repeat_batch(encode_image(base, init, masked, tag).sample(generator) * sf, copies);
                s.unet_mask = (c.cfg ? at::cat({s.mask, s.mask}) : s.mask).to(dtype);
                s.unet_masked_image_latents =
                    (c.cfg ? at::cat({s.masked_image_latents, s.masked_image_latents}) : s.masked_image_latents).to(dtype);
            } else {
                // diffusers encodes the masked image even for 4-channel UNets; draw its sample noise so the
                // generator stays in step with the reference (the ancestral noise comes next).
                (void)at::randn({1, 4, h, w}, generator, at::kFloat);
            }
        }
    } else if (!q.latents_file.empty()) {
        s.latents = read_latents_file(q.latents_file, shape) * scheduler.init_noise_sigma();
    } else {
        s.latents = at::randn(shape, generator, at::kFloat) * scheduler.init_noise_sigma();
    }
    return s;
}

Engine::StepOutput Engine::denoise_step(const GenerationRequest& q, LoadedModels& models, Conditioning& c, const StartLatents& start,
                                        const at::Tensor& latents, int k, int total, schedulers::Scheduler& scheduler,
                                        at::Generator& generator, at::ScalarType dtype, DeepCacheState* deep_cache) {
    auto& unet = models.base->unet;
    // A DeepCache step between full passes runs only the shallow branch, and a ControlNet only as far as it.
    const bool shallow = deep_cache && !deep_cache->full_pass(k);
    const std::size_t residual_limit = shallow ? unet->shallow_skip_count(deep_cache->branch) : SIZE_MAX;
    const std::int64_t unet_channels = unet->config.in_channels;
    const std::size_t index = start.begin + static_cast<std::size_t>(k);
    const at::Tensor t = scheduler.timesteps()[static_cast<std::int64_t>(index)];
    at::Tensor model_input = c.cfg ? at::cat({latents, latents}) : latents;
    model_input = network_input(scheduler.scale_model_input(model_input, index), dtype);

    nn::UNetInputs in;
    in.sample = unet_channels == 9 ? at::cat({model_input, start.unet_mask, start.unet_masked_image_latents}, 1) : model_input;
    in.timestep = t;
    in.timestep_cond = c.timestep_cond;
    in.encoder_hidden_states = c.prompt_embeds;
    in.text_key_values = &c.text_kv;
    in.image_prompts = c.image_prompts.for_step(k, total);
    for (std::size_t n = 0; n < models.controlnets.size(); ++n) {
        const auto& s = q.controlnets[n];
        const bool keep = !(static_cast<double>(k) / total < s.start || static_cast<double>(k + 1) / total > s.end);
        if (!keep) continue;
        auto out = models.controlnets[n]->forward(model_input, t, c.prompt_embeds, c.control_images[n], s.conditioning_scale,
                                                  residual_limit);
        if (in.down_block_additional_residuals.empty()) {
            in.down_block_additional_residuals = out.down_block_res_samples;
            in.mid_block_additional_residual = out.mid_block_res_sample;
        } else {
            for (std::size_t r = 0; r < out.down_block_res_samples.size(); ++r)
                in.down_block_additional_residuals[r] = in.down_block_additional_residuals[r] + out.down_block_res_samples[r];
            if (!shallow) in.mid_block_additional_residual = in.mid_block_additional_residual + out.mid_block_res_sample;
        }
    }
    at::Tensor noise_pred;
    if (!deep_cache)
        noise_pred = unet->forward(in);
    else if (shallow)
        noise_pred = unet->forward_shallow(in, deep_cache->branch, deep_cache->deep_features);
    else
        noise_pred = unet->forward_keeping(in, deep_cache->branch, deep_cache->deep_features);
    noise_pred = noise_pred.to(at::kFloat).contiguous();
    if (c.cfg) {
        const auto parts = noise_pred.chunk(2);
        noise_pred = parts[0] + q.guidance_scale * (parts[1] - parts[0]);
    }
    const auto out = scheduler.step(noise_pred, index, latents, generator);
    StepOutput result{out.prev_sample, out.pred_original_sample};
    if (q.mask_image && unet_channels == 4) {
        // Inpainting with a plain UNet: outside the mask, the init image noised to the next step.
        at::Tensor proper = start.image_latents;
        if (k + 1 < total) proper = scheduler.add_noise(start.image_latents, start.noise, index + 1);
        result.latents = (1 - start.mask) * proper + start.mask * result.latents;
    }
    return result;
}

at::Tensor Engine::decode(const GenerationRequest& q, LoadedModels& models, const at::Tensor& latents, at::ScalarType dtype) {
    // One image at a time (memory). TAESD reads the UNet's latents as they are; the VAE unscaled ones.
    BaseModel& base = *models.base;
    const double sf = base.vae->config.scaling_factor;
    std::vector<at::Tensor> decoded;
    for (std::int64_t i = 0; i < latents.size(0); ++i) {
        nn::cancel_point();
        const at::Tensor one = latents.narrow(0, i, 1);
        decoded.push_back(q.draft_decode ? models.preview_decoder->forward(network_input(one, dtype)).to(at::kFloat).contiguous()
                                         : decode_latent(base, one / sf));
    }
    at::Tensor all = at::cat(decoded);
    if (!at::isfinite(all).all().item<bool>())
        throw Error(q.draft_decode ? "the draft-decoded image contains NaN" : "the decoded image contains NaN");
    return all;
}

GenerationResult Engine::generate(const GenerationRequest& q, const ProgressCallback& progress, const CancelToken* cancel,
                                  Trace* trace) {
    validate_request(q);
    Reporter report{progress};
    c10::InferenceMode guard;
    // Every check of `cancel` (between steps, images, and the networks' layers) reads it through this scope.
    const nn::CancelScope cancel_scope(cancel);
    const at::ScalarType dtype = q.dtype == "bfloat16" ? at::kBFloat16 : at::kFloat;

    encode_references_before_base(q, dtype, report);
    LoadedModels models = load_models(q, dtype, report);
    BaseModel& base = *models.base;
    if (q.deep_cache) base.unet->check_branch(q.deep_cache->branch);
    if (const auto cond_dim = base.unet->config.time_cond_proj_dim; cond_dim && q.scheduler != "lcm")
        throw InputError(io::display_path(q.model) + ": this UNet is a Latent Consistency Model (time_cond_proj_dim " +
                         std::to_string(*cond_dim) + "); it runs with the lcm sampler, not " + q.scheduler);
    nn::cancel_point();

    const std::uint64_t seed = q.seed ? *q.seed : std::random_device()();
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    auto scheduler = schedulers::make_scheduler(q.scheduler, base.scheduler_config, schedulers::SchedulerOptions{q.eta, q.timestep_spacing});
    scheduler->set_timesteps(q.num_inference_steps);

    report("encoding", 0, 0, nullptr);
    Conditioning conditioning = encode_conditioning(q, models, dtype, trace);
    nn::cancel_point();

    const StartLatents start = prepare_latents(q, base, conditioning, *scheduler, generator, dtype);
    if (trace) trace->timesteps = scheduler->timesteps().slice(0, static_cast<std::int64_t>(start.begin));

    const int total = static_cast<int>(scheduler->size() - start.begin);
    std::optional<DeepCacheState> deep_cache;
    if (q.deep_cache) {
        deep_cache = DeepCacheState{q.deep_cache->interval, nn::DeepCacheBranch::from_id(q.deep_cache->branch), {}};
    }
    at::Tensor latents = start.latents;
    report("denoising", 0, total, nullptr);
    for (int k = 0; k < total; ++k) {
        nn::cancel_point();
        const StepOutput step = denoise_step(q, models, conditioning, start, latents, k, total, *scheduler, generator, dtype,
                                             deep_cache ? &*deep_cache : nullptr);
        latents = step.latents;
        if (trace) trace->step_latents.push_back(latents);
        if (progress) {
            const bool decoded_preview = models.preview_decoder && (k + 1) % q.preview_every == 0;
            const Image preview = decoded_preview ? tiny_preview(models.preview_decoder, step.pred_original_sample, dtype)
                                                  : latent_preview(step.pred_original_sample);
            report("denoising", k + 1, total, &preview);
        }
    }
    if (!at::isfinite(latents).all().item<bool>())
        throw Error("the generation diverged (NaN in the latents); try float32 or fewer/other settings");

    report("decoding", total, total, nullptr);
    const at::Tensor all = decode(q, models, latents, dtype);
    if (trace) {
        trace->latents_final = latents;
        trace->decoded = all;
        trace->image = postprocess(all);
    }

    GenerationResult result;
    result.images = to_images(all);
    result.seed = seed;
    result.seconds = report.elapsed();
    result.warnings = std::move(conditioning.warnings);
    const at::Tensor lat = latents.contiguous();
    result.latents.assign(lat.data_ptr<float>(), lat.data_ptr<float>() + lat.numel());
    result.latents_shape = lat.sizes().vec();
    return result;
}

}  // namespace ips::pipeline
