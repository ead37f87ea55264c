#pragma once
// The generation itself: what ips::Pipeline runs (and the golden tests call directly, to see the
// intermediate tensors through a Trace).
#include <map>
#include <optional>

#include <ATen/ATen.h>

#include "ipadapter/image_embedding.h"
#include "ipadapter/image_prompts.h"
#include "schedulers/scheduler.h"
#include "ips/generation.h"
#include "pipeline/model_cache.h"
#include "pipeline/text_window_cache.h"

namespace ips::pipeline {

// Intermediate values, recorded when a Trace is passed (tests).
struct Trace {
    at::Tensor prompt_embeds;                  // [2B or B, 77 * windows, C] as the UNet sees them
    at::Tensor timesteps;                      // the timesteps run
    std::vector<std::pair<at::Tensor, at::Tensor>> ip_tokens;  // per adapter: {uncond, cond}
    std::vector<at::Tensor> ip_regions;        // per adapter: [1, images, H, W] of 0/1, undefined without regions
    std::vector<at::Tensor> step_latents;      // after each step (after the inpaint blend)
    at::Tensor latents_final;
    at::Tensor decoded;                        // VAE output before postprocessing
    at::Tensor image;                          // postprocessed [N, 3, H, W] in [0, 1]
};

class Engine {
public:
    explicit Engine(PipelineOptions options);
    GenerationResult generate(const GenerationRequest& request, const ProgressCallback& progress, const CancelToken* cancel,
                              Trace* trace = nullptr);
    void unload();
    ModelCache& models() { return models_; }
    // Encodes the request's prompt and negative prompt into the text cache when its base model is loaded
    // (it never loads one), with its LoRAs and embeddings applied as its generation will: Live runs it while
    // it waits for the artist to pause. Returns whether it did.
    bool prepare_prompts(const GenerationRequest& request);

    // How often each stage actually ran (the rest came from the caches); text_encodes counts 77-token windows.
    struct StageCounts {
        int text_encodes = 0, image_encodes = 0, vae_encodes = 0;
    };
    StageCounts stage_counts() const {
        return {text_encodes_, static_cast<int>(embeddings_.misses()), vae_encodes_};
    }

private:
    // The stages of one generation, in the order of diffusers' pipeline __call__; `generate` runs them in turn.
    // The denoising step is the one place a sampler, a cache of deep features or a mask plugs in.
    struct Reporter;  // progress and elapsed time (engine.cpp)
    struct LoadedModels {
        BaseModel* base = nullptr;
        std::vector<ipadapter::IPAdapterModel> adapters;
        std::vector<nn::ControlNetModel> controlnets;
        nn::TinyDecoder preview_decoder{nullptr};
    };
    // What every step sees besides the latents.
    struct Conditioning {
        bool cfg = false;          // the batch holds the unconditional half first
        std::int64_t copies = 1;   // images per prompt
        at::Tensor prompt_embeds;  // [2B or B, 77 * windows, C] in the network precision
        std::vector<nn::KeyValue> text_kv;
        ipadapter::PreparedImagePrompts image_prompts;
        std::vector<at::Tensor> control_images;  // per ControlNet, batched as the UNet input
        // A Latent Consistency Model UNet's guidance embedding [B, time_cond_proj_dim] (its guidance is built in:
        // no CFG batch); undefined for other UNets.
        at::Tensor timestep_cond;
        std::vector<std::string> warnings;
    };
    // The latents denoising starts from, and what inpainting needs at every step.
    struct StartLatents {
        std::size_t begin = 0;  // the first scheduler index run (img2img skips the first ones)
        at::Tensor latents, noise, image_latents, mask, masked_image_latents;
        // A 9-channel inpainting UNet's extra inputs, batched (CFG) and cast as every step feeds them.
        at::Tensor unet_mask, unet_masked_image_latents;
    };
    // DeepCache across the steps of one generation: the deep features of the last full pass.
    struct DeepCacheState {
        int interval = 1;
        nn::DeepCacheBranch branch;
        at::Tensor deep_features;
        bool full_pass(int step) const { return step % interval == 0; }
    };
    struct StepOutput {
        at::Tensor latents;             // after the step (and the inpaint blend)
        at::Tensor pred_original_sample;  // the scheduler's estimate of the clean latents (previews)
    };

    LoadedModels load_models(const GenerationRequest& request, at::ScalarType dtype, Reporter& reporter);
    Conditioning encode_conditioning(const GenerationRequest& request, LoadedModels& models, at::ScalarType dtype, Trace* trace);
    StartLatents prepare_latents(const GenerationRequest& request, BaseModel& base, const Conditioning& conditioning,
                                 schedulers::Scheduler& scheduler, at::Generator& generator, at::ScalarType dtype);
    StepOutput denoise_step(const GenerationRequest& request, LoadedModels& models, Conditioning& conditioning,
                            const StartLatents& start, const at::Tensor& latents, int step, int total, schedulers::Scheduler& scheduler,
                            at::Generator& generator, at::ScalarType dtype, DeepCacheState* deep_cache);
    // The final picture through the VAE, or through the TAESD decoder for the request's draft_decode.
    // Stops between images (and the VAE between its layers) once the generation's cancel token fires.
    at::Tensor decode(const GenerationRequest& request, LoadedModels& models, const at::Tensor& latents, at::ScalarType dtype);

    struct TextEmbeddings {
        at::Tensor cond, uncond;  // [1, 77 * windows, C] in the text encoder's precision (same windows)
    };
    TextEmbeddings text_embeddings(BaseModel& base, const GenerationRequest& request);
    // A cold run (the requested base not loaded) with image encoders released after use encodes its
    // reference pictures first, into the embedding cache: the 1.3 GB ViT-H then never sits in memory beside
    // the UNet, text encoder and VAE, which is what set a cold generate's peak. Warm runs change nothing.
    void encode_references_before_base(const GenerationRequest& request, at::ScalarType dtype, Reporter& reporter);
    // `encoder` is the image encoder folder (loaded only when the picture is not in the embedding cache).
    ipadapter::ImageEmbedding reference_embedding(const ImageSource& source, const std::filesystem::path& encoder, at::ScalarType dtype,
                                                  CropMode crop, const std::string& what);
    ipadapter::ImageEmbedding zero_image_embedding(const std::filesystem::path& encoder, at::ScalarType dtype);
    nn::LatentDistribution encode_image(BaseModel& base, const Image& image, const at::Tensor& pixels, const std::string& tag);

    PipelineOptions options_;
    ModelCache models_;
    ipadapter::ImageEmbeddingCache embeddings_;
    TextWindowCache text_windows_;
    std::map<std::string, nn::LatentDistribution> vae_cache_;
    std::map<std::string, at::Tensor> control_cache_;  // preprocessed maps by content and size
    int text_encodes_ = 0, vae_encodes_ = 0;
};

// The picture of an ImageSource (read from its file, or the one held in memory).
Image load_source(const ImageSource& source, const std::string& what);

}  // namespace ips::pipeline
