#pragma once
// Builds the networks from the files users have: diffusers component folders (config.json + weights,
// .fp16 variants, sharded checkpoints) and single-file SD checkpoints (with configs from a folder).
#include <filesystem>

#include "nn/autoencoder_kl.h"
#include "nn/clip_models.h"
#include "nn/controlnet.h"
#include "nn/state_dict.h"
#include "nn/tiny_autoencoder.h"
#include "nn/unet_2d_condition.h"

namespace ips::models {

using nn::LoadTarget;

// Each loader checks that the weights are of the expected kind (a ControlNet is not a UNet, a VAE is
// not a text encoder) before building anything, then loads strictly.
nn::UNet2DConditionModel load_unet(const std::filesystem::path& folder, const LoadTarget& target);
nn::AutoencoderKL load_vae(const std::filesystem::path& folder, const LoadTarget& target);
// A separate VAE: a diffusers VAE folder, a pipeline folder (its vae/), or a single weights file in the
// original LDM naming (encoder.down.0..., optionally under first_stage_model.) or diffusers naming, with
// the SD1.5 VAE configuration from `config_root`.
nn::AutoencoderKL load_separate_vae(const std::filesystem::path& path, const std::filesystem::path& config_root,
                                    const LoadTarget& target);
// A TAESD preview decoder: a diffusers AutoencoderTiny folder (madebyollin/taesd) or a single file
// (taesd_decoder.safetensors / .pth as madebyollin publishes them, or diffusers names).
nn::TinyDecoder load_preview_decoder(const std::filesystem::path& path, const LoadTarget& target);
nn::CLIPTextModel load_text_encoder(const std::filesystem::path& folder, const LoadTarget& target);
nn::CLIPVisionModelWithProjection load_image_encoder(const std::filesystem::path& folder, const LoadTarget& target);
nn::ControlNetModel load_controlnet(const std::filesystem::path& folder, const LoadTarget& target);

struct StableDiffusionNetworks {
    nn::UNet2DConditionModel unet{nullptr};
    nn::AutoencoderKL vae{nullptr};
    nn::CLIPTextModel text_encoder{nullptr};
};

// A single-file checkpoint (LDM layout). Configs come from `config_root`, a folder with unet/, vae/
// and text_encoder/ config.json files (the SD1.5 ones ship in models/sd15).
StableDiffusionNetworks load_single_file(const std::filesystem::path& checkpoint, const std::filesystem::path& config_root,
                                         const LoadTarget& target);

// A diffusers pipeline folder (model_index.json with unet/, vae/, text_encoder/).
StableDiffusionNetworks load_pipeline_folder(const std::filesystem::path& folder, const LoadTarget& target);

}  // namespace ips::models
