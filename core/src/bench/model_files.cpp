// SD1.5-size random networks written as a user's files are laid out, so a cold generation can be measured
// from files (ipstudio-cli bench --only files): what loading costs in time and memory is what real files cost.
#include <fstream>
#include <map>

#include "bench/generation_bench.h"
#include "io/configs.h"
#include "io/weights.h"
#include "ips/bench.h"
#include "ips/png_file.h"
#include "ips/request_json.h"
#include "nn/clip_models.h"
#include "nn/autoencoder_kl.h"
#include "nn/tiny_autoencoder.h"
#include "nn/unet_2d_condition.h"

namespace ips {
namespace {

namespace fs = std::filesystem;

// Every parameter and buffer under its module name (the diffusers / transformers key), floating ones in
// float16 as the published fp16 files hold them.
void save_half(torch::nn::Module& module, const fs::path& file) {
    std::map<std::string, at::Tensor> tensors;
    for (const auto& p : module.named_parameters()) tensors[p.key()] = p.value().to(at::kHalf);
    for (const auto& b : module.named_buffers())
        tensors[b.key()] = b.value().is_floating_point() ? b.value().to(at::kHalf) : b.value();
    io::save_safetensors(file, tensors);
}

void copy_config(const fs::path& from_root, const fs::path& to_root, const fs::path& relative) {
    fs::create_directories((to_root / relative).parent_path());
    fs::copy_file(from_root / relative, to_root / relative, fs::copy_options::overwrite_existing);
}

}  // namespace

fs::path write_model_files(const BenchOptions& o, const fs::path& folder) {
    c10::InferenceMode off(false);
    torch::NoGradGuard no_grad;
    const fs::path& root = o.config_root;
    const fs::path base = folder / "stable-diffusion-v1-5";
    for (const char* config : {"unet/config.json", "vae/config.json", "text_encoder/config.json", "scheduler/scheduler_config.json",
                               "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/special_tokens_map.json",
                               "tokenizer/tokenizer_config.json", "image_encoder/config.json"})
        copy_config(root, std::string(config).starts_with("image_encoder") ? folder : base, config);
    std::ofstream(base / "model_index.json") << R"({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
 "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
 "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
 "scheduler": ["diffusers", "PNDMScheduler"], "safety_checker": [null, null], "feature_extractor": [null, null]})";

    // One network at a time: each is freed before the next is built.
    std::int64_t projection_dim = 0;
    fs::path adapter;
    {
        nn::CLIPVisionModelWithProjection vision(io::load_config<io::CLIPVisionConfig>(root / "image_encoder" / "config.json"));
        bench::randomise(*vision, false);
        projection_dim = vision->config.projection_dim;
        save_half(*vision, folder / "image_encoder" / "model.safetensors");
    }
    {
        nn::UNet2DConditionModel unet(io::load_config<io::UNet2DConditionModelConfig>(root / "unet" / "config.json"));
        bench::randomise(*unet, false);
        save_half(*unet, base / "unet" / "diffusion_pytorch_model.fp16.safetensors");
        adapter = bench::write_random_adapter(folder, *unet, projection_dim);
    }
    {
        nn::AutoencoderKL vae(io::load_config<io::AutoencoderKLConfig>(root / "vae" / "config.json"));
        bench::randomise(*vae, false);
        save_half(*vae, base / "vae" / "diffusion_pytorch_model.fp16.safetensors");
    }
    {
        nn::CLIPTextModel text(io::load_config<io::CLIPTextConfig>(root / "text_encoder" / "config.json"));
        bench::randomise(*text, false);
        save_half(*text, base / "text_encoder" / "model.fp16.safetensors");
    }

    {
        // TAESD as madebyollin/taesd ships it for diffusers (AutoencoderTiny); previews and Live frames need
        // only the decoder, so only its tensors are written.
        const io::AutoencoderTinyConfig config;
        nn::TinyDecoder decoder(config);
        bench::randomise(*decoder, false);
        std::map<std::string, at::Tensor> tensors;
        for (const auto& p : decoder->named_parameters()) tensors["decoder." + p.key()] = p.value().to(at::kHalf);
        fs::create_directories(folder / "taesd");
        io::save_safetensors(folder / "taesd" / "diffusion_pytorch_model.safetensors", tensors);
        std::ofstream(folder / "taesd" / "config.json") << R"({"_class_name": "AutoencoderTiny", "_diffusers_version": "0.30.0",
 "act_fn": "relu", "decoder_block_out_channels": [64, 64, 64, 64], "encoder_block_out_channels": [64, 64, 64, 64],
 "force_upcast": false, "in_channels": 3, "latent_channels": 4, "latent_magnitude": 3, "latent_shift": 0.5,
 "num_decoder_blocks": [3, 3, 3, 1], "num_encoder_blocks": [1, 3, 3, 3], "out_channels": 3, "scaling_factor": 1.0,
 "upsampling_scaling_factor": 2, "shift_factor": 0.0})";
    }

    write_png(folder / "reference.png", bench::reference_picture(), {}, true);
    const GenerationRequest q =
        bench::plain_request(o, base, "bfloat16", adapter, folder / "image_encoder", {folder / "reference.png", nullptr});
    const fs::path request = folder / "request.json";
    write_request_file(request, q);
    return request;
}

}  // namespace ips
