#pragma once
// The generation API the CLI and the GUI drive: a request (the preset format's fields, diffusers call
// names), a pipeline that keeps models loaded between requests, progress with previews, cancel.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ips/image.h"
#include "ips/image_prompt.h"

namespace ips {

// A picture given by file (an image, or for IP-Adapter references an embedding file written by
// `ipstudio-cli embed`) or in memory (pasted, painted).
struct ImageSource {
    std::filesystem::path path;
    std::shared_ptr<const Image> image;

    bool empty() const { return path.empty() && !image; }
    std::string describe() const;  // the file name, or "an image in memory"
};

struct IpAdapterSettings {
    std::filesystem::path path;           // .bin or .safetensors
    std::filesystem::path image_encoder;  // CLIP vision folder (not needed when every image is an embedding file)
    std::vector<ImageSource> images;      // tokens concatenated, as diffusers does with several images
    std::vector<double> image_weights;    // per image; empty = all 1
    // Where each image applies (diffusers' ip_adapter_masks): one grey picture per image, white = here,
    // binarised at half grey and resized to the output size. Empty = everywhere. With regions each image is
    // attended on its own (no shared softmax), so an all-white region is not the same as none.
    std::vector<ImageSource> regions;
    std::optional<ImageSource> negative_image;
    double scale = 1.0;
    std::string block_scales_json;  // diffusers' per-block dict ({"down": {...}, "mid": x, "up": {...}}); replaces scale
    // ComfyUI_IPAdapter_plus's weight_type (ips/ip_adapter_options.h; JSON "weight_type"). The old
    // names full, style, composition are accepted as aliases of linear, style transfer, composition.
    std::string mode = "linear";
    std::string combine_embeds = "concat";  // several images in one adapter: concat, add, subtract, average, norm average
    std::string embeds_scaling = "V only";  // V only, K+V, K+V w/ C penalty, K+mean(V) w/ C penalty
    double start = 0.0, end = 1.0;  // fractions of the denoising steps
    CropMode crop = CropMode::Center;
    std::vector<CropMode> image_crops;  // per image; empty = `crop` for all
};

struct ControlNetSettings {
    std::filesystem::path path;  // diffusers ControlNet folder
    ImageSource image;           // the structure map, used as it is (resized to the output size)
    double conditioning_scale = 1.0;
    double start = 0.0, end = 1.0;
};

// A LoRA merged into the UNet and text encoder for the generation: weight * ΔW (negative allowed).
struct LoraSettings {
    std::filesystem::path path;  // .safetensors / .bin / .pt: kohya, diffusers, PEFT, LyCORIS LoHa/LoKr
    double weight = 1.0;
};

// A textual-inversion embedding (A1111 .pt / .safetensors, diffusers learned_embeds.*): its token in a
// prompt (also written "embedding:<token>", ComfyUI's spelling) stands for the embedding's vectors.
struct EmbeddingSettings {
    std::filesystem::path path;
    std::string token;  // empty: the file stem (diffusers' learned_embeds.*: the token saved in the file)
};

// DeepCache (horseee/DeepCache): a full UNet pass every `interval` steps; the steps between recompute only the
// shallow `branch` (0 = conv_in, the last up layer, conv_out: the fastest) on the deep features kept.
struct DeepCacheSettings {
    int interval = 3;
    int branch = 0;
};

struct GenerationRequest {
    std::filesystem::path model;  // diffusers pipeline folder or single-file SD1.x checkpoint
    // Optional: a separate VAE replacing the model's own (a diffusers VAE folder, e.g.
    // stabilityai/sd-vae-ft-mse, or a single file such as vae-ft-mse-840000-ema-pruned.safetensors).
    std::filesystem::path vae;
    std::string prompt;
    std::string negative_prompt;
    int width = 512;
    int height = 512;
    int num_inference_steps = 30;
    double guidance_scale = 7.5;
    std::optional<std::uint64_t> seed;  // none: a random seed (reported in the result)
    std::string scheduler = "ddim";
    // "" keeps the model's scheduler config; "leading", "linspace" or "trailing" replace its spacing (Hyper-SD
    // and other few-step LoRAs want "trailing"). lcm and tcd have no spacing.
    std::string timestep_spacing;
    std::optional<int> clip_skip;
    // How the prompts are read (ips/prompt_syntax.h): "plain" = diffusers (77 tokens, the rest ignored),
    // "a1111" = stable-diffusion-webui's (emphasis:1.2), [less], BREAK and any length.
    std::string prompt_syntax = "plain";
    int num_images_per_prompt = 1;
    std::string dtype = "float32";  // or "bfloat16"
    double eta = 0.0;               // DDIM only
    std::vector<IpAdapterSettings> ip_adapters;
    std::vector<ControlNetSettings> controlnets;
    std::vector<LoraSettings> loras;        // applied in order to the base model's weights
    std::vector<EmbeddingSettings> embeddings;  // textual inversions, usable in prompt and negative prompt
    std::optional<ImageSource> init_image;  // img2img / inpainting
    std::optional<double> strength;         // default 0.8 (img2img), 1.0 (inpainting)
    std::optional<ImageSource> mask_image;  // white = repaint
    std::filesystem::path latents_file;     // initial latents (safetensors, key "latents"); empty = from the seed
    std::optional<DeepCacheSettings> deep_cache;  // none: every step runs the whole UNet

    // How progress is shown, not what is made (not written to presets or PNG metadata). With a TAESD
    // decoder (a diffusers AutoencoderTiny folder such as madebyollin/taesd, or a taesd_decoder file) the
    // preview is a full-size picture every `preview_every` steps; the other steps, and without one, it is
    // the latent-space preview. The full VAE never runs for a preview.
    std::filesystem::path preview_decoder;
    int preview_every = 4;
    // A draft: the final picture decoded by preview_decoder (TAESD, about 15x cheaper than the VAE and less
    // exact) instead of the VAE. Needs preview_decoder. Written to presets and PNG metadata.
    bool draft_decode = false;
};

struct GenerationProgress {
    std::string stage;  // "loading models", "encoding", "denoising", "decoding"
    int step = 0;       // steps done (denoising)
    int total = 0;
    double elapsed_seconds = 0;
    const Image* preview = nullptr;  // the current estimate (denoising only): latent-space or TAESD-decoded
    std::uint64_t bytes_loaded = 0;  // "loading models": bytes of weights read so far in this request
};
using ProgressCallback = std::function<void(const GenerationProgress&)>;

// Set from any thread; the pipeline checks it between steps and between the networks' layers and throws Cancelled.
class CancelToken {
public:
    void cancel() { cancelled_.store(true); }
    void reset() { cancelled_.store(false); }
    bool cancelled() const { return cancelled_.load(); }

private:
    std::atomic<bool> cancelled_{false};
};

struct GenerationResult {
    std::vector<Image> images;
    std::uint64_t seed = 0;
    double seconds = 0;
    std::vector<float> latents;               // the final latents (before decoding), NCHW
    std::vector<std::int64_t> latents_shape;  // [N, 4, H/8, W/8]
    // What the engine changed or found doubtful in the request without refusing it (a region resized to
    // the output size, an empty region): one sentence each, naming the input.
    std::vector<std::string> warnings;
};

struct PipelineOptions {
    std::filesystem::path config_root;  // SD1.5 configs + tokenizer for single-file checkpoints (models/sd15)
    int threads = 0;                    // 0: all cores
    // Image encoders (ViT-H/14: 1.3 GB in bfloat16, 2.5 GB in float32) are loaded only when a reference
    // picture is not in the embedding cache and, unless this is set, released once a request's
    // references are encoded, leaving that memory to the denoising. Set it when references change at
    // every generation and memory is plentiful (a reload from the page cache takes a few seconds).
    bool keep_image_encoders = false;
};

class Pipeline {
public:
    explicit Pipeline(PipelineOptions options);
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    // Validates, loads what is missing (models stay loaded for the next request; stages such as text and
    // image embeddings are cached by their inputs), denoises, decodes. Throws InputError/ModelLoadError
    // for bad requests (before any work where possible), Cancelled when `cancel` fires.
    GenerationResult generate(const GenerationRequest& request, const ProgressCallback& progress = {},
                              const CancelToken* cancel = nullptr);

    // Encodes the request's prompts ahead of its generation, which then finds them cached; only when its base
    // model is already loaded (never loads one). Returns whether it did. Throws what generate would for a bad
    // prompt syntax or LoRA.
    bool prepare_prompts(const GenerationRequest& request);

    // Drops every loaded model and cached stage.
    void unload();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Checks everything that can be checked without loading models; throws InputError naming the field.
void validate_request(const GenerationRequest& request);

// Final latents as a safetensors file (key "latents"), written atomically; an existing file is kept
// (InputError "already exists") unless `overwrite`.
void write_latents_file(const std::filesystem::path& file, const GenerationResult& result, bool overwrite = true);

}  // namespace ips
