#include "models/model_loader.h"

#include <algorithm>
#include <cctype>

#include "io/component_files.h"
#include "io/detect.h"
#include "io/json_file.h"
#include "io/ldm_key_map.h"
#include "io/weights.h"
#include "ips/errors.h"
#include "nn/default_dtype.h"

namespace ips::models {
namespace {

namespace fs = std::filesystem;

// All tensors of a component folder (every shard), after checking they are the expected kind.
std::map<std::string, at::Tensor> read_component(const fs::path& folder, ModelKind expected) {
    const std::string name = io::display_path(folder);
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) throw ModelLoadError(name + ": not a folder (expected a diffusers component folder)");
    if (!fs::is_regular_file(folder / "config.json", ec)) throw ModelLoadError(name + ": config.json is missing");
    const auto files = io::component_weight_files(folder);
    if (files.empty())
        throw ModelLoadError(name + ": no weights file (expected diffusion_pytorch_model.safetensors or model.safetensors)");
    std::map<std::string, at::Tensor> tensors;
    std::vector<io::TensorInfo> infos;
    for (const auto& file : files) {
        for (auto& [key, tensor] : io::load_weights(file).tensors) {
            infos.push_back({key, "", tensor.sizes().vec()});
            tensors.emplace(key, std::move(tensor));
        }
    }
    const auto detected = io::detect_from_tensors(infos).kind;
    if (detected != expected)
        throw ModelLoadError(name + ": holds a " + model_kind_name(detected) + ", expected a " + model_kind_name(expected));
    return tensors;
}

std::string file_of(const fs::path& folder) { return io::display_path(folder); }

// transformers registers position_ids as a buffer; some files carry it, the model does not need it.
const std::set<std::string> kClipIgnored = {"text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"};

// Files in the original LDM layout store the VAE's attention projections as 1x1 convolutions; the
// diffusers VAE has linear layers. False when `ldm_key` is no VAE tensor.
bool take_ldm_vae_tensor(const std::string& ldm_key, at::Tensor&& tensor, const io::LdmLayout& layout,
                         std::map<std::string, at::Tensor>& vae) {
    const auto key = io::ldm_to_diffusers(ldm_key, io::LdmComponent::Vae, layout);
    if (!key) return false;
    if (io::is_vae_attention_projection(*key) && tensor.dim() == 4) tensor = tensor.flatten(1);  // [C, C, 1, 1] -> [C, C]
    vae.emplace(*key, std::move(tensor));
    return true;
}

// VAE weights saved before diffusers 0.14 (the SD1.5 and sd-vae-ft-mse uploads among them) name the
// mid-block attention query / key / value / proj_attn; today's names are to_q / to_k / to_v / to_out.0.
void rename_deprecated_vae_attention(std::map<std::string, at::Tensor>& weights) {
    static const std::pair<std::string, std::string> kRenames[] = {
        {".query.", ".to_q."}, {".key.", ".to_k."}, {".value.", ".to_v."}, {".proj_attn.", ".to_out.0."}};
    std::map<std::string, at::Tensor> renamed;
    for (auto& [key, tensor] : weights) {
        std::string k = key;
        if (k.find(".attentions.") != std::string::npos)
            for (const auto& [from, to] : kRenames)
                if (const auto at = k.find(from); at != std::string::npos) {
                    k.replace(at, from.size(), to);
                    break;
                }
        renamed.emplace(std::move(k), std::move(tensor));
    }
    weights.swap(renamed);
}

}  // namespace

nn::UNet2DConditionModel load_unet(const fs::path& folder, const LoadTarget& target) {
    auto tensors = read_component(folder, ModelKind::UNet);
    const auto config = io::load_config<io::UNet2DConditionModelConfig>(folder / "config.json");
    nn::check_supported(config, file_of(folder / "config.json"));
    auto unet = nn::build_in<nn::UNet2DConditionModel>(target.dtype, config);
    nn::load_state_dict(*unet, std::move(tensors), file_of(folder), "the UNet", target);
    unet->eval();
    return unet;
}

nn::AutoencoderKL load_vae(const fs::path& folder, const LoadTarget& target) {
    auto tensors = read_component(folder, ModelKind::Vae);
    rename_deprecated_vae_attention(tensors);
    const auto config = io::load_config<io::AutoencoderKLConfig>(folder / "config.json");
    nn::check_supported(config, file_of(folder / "config.json"));
    nn::AutoencoderKL vae(config);
    nn::load_state_dict(*vae, std::move(tensors), file_of(folder), "the VAE", target);
    vae->eval();
    return vae;
}

nn::AutoencoderKL load_separate_vae(const fs::path& path, const fs::path& config_root, const LoadTarget& target) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return load_vae(fs::is_regular_file(path / "model_index.json", ec) ? path / "vae" : path, target);
    const std::string name = io::display_path(path);
    auto all = io::load_weights(path).tensors;
    const bool diffusers_names = std::any_of(all.begin(), all.end(), [](const auto& kv) {
        return kv.first.find("down_blocks.") != std::string::npos || kv.first.find("mid_block.") != std::string::npos;
    });
    const auto config = io::load_config<io::AutoencoderKLConfig>(config_root / "vae" / "config.json");
    nn::check_supported(config, file_of(config_root / "vae" / "config.json"));
    std::map<std::string, at::Tensor> weights;
    io::LdmLayout layout;
    layout.num_vae_blocks = static_cast<int>(config.block_out_channels.size());
    for (auto& [key, tensor] : all) {
        if (diffusers_names) {
            weights.emplace(key, std::move(tensor));
            continue;
        }
        const std::string ldm = key.rfind("first_stage_model.", 0) == 0 ? key : "first_stage_model." + key;
        // Other keys (a loss's discriminator in some training checkpoints) are not the VAE's.
        take_ldm_vae_tensor(ldm, std::move(tensor), layout, weights);
    }
    if (weights.empty()) throw ModelLoadError(name + ": no VAE weights in it (expected encoder.* / decoder.* tensors)");
    rename_deprecated_vae_attention(weights);
    nn::AutoencoderKL vae(config);
    nn::load_state_dict(*vae, std::move(weights), name, "the VAE", target);
    vae->eval();
    return vae;
}

nn::TinyDecoder load_preview_decoder(const fs::path& path, const LoadTarget& target) {
    const std::string name = io::display_path(path);
    std::error_code ec;
    io::AutoencoderTinyConfig config;
    std::map<std::string, at::Tensor> all;
    if (fs::is_directory(path, ec)) {
        all = read_component(path, ModelKind::TinyAutoencoder);
        config = io::load_config<io::AutoencoderTinyConfig>(path / "config.json");
    } else {
        all = io::load_weights(path).tensors;
        std::vector<io::TensorInfo> infos;
        for (const auto& [key, tensor] : all) infos.push_back({key, "", tensor.sizes().vec()});
        const auto detected = io::detect_from_tensors(infos);
        if (detected.kind != ModelKind::TinyAutoencoder)
            throw ModelLoadError(name + ": holds a " + model_kind_name(detected.kind) +
                                 ", expected a TAESD preview decoder (taesd_decoder.safetensors or a diffusers AutoencoderTiny)");
        if (detected.variant == "encoder")
            throw ModelLoadError(name + ": a TAESD encoder; previews need the decoder (taesd_decoder.safetensors)");
    }
    // The decoder's tensors under the module's names: diffusers' "decoder.layers.N" as they are, the
    // original file's "N" one lower (its entry 0 is the parameter-free clamp, which DecoderTiny applies
    // in forward). The encoder's tensors are not needed for previews.
    std::map<std::string, at::Tensor> weights;
    auto unexpected = [&](const std::string& key) { return ModelLoadError(name + ": unexpected tensor '" + key + "' for a TAESD decoder"); };
    for (auto& [key, tensor] : all) {
        std::string module_name;
        if (key.rfind("decoder.layers.", 0) == 0) {
            module_name = key.substr(std::string("decoder.").size());
        } else if (!key.empty() && std::isdigit(static_cast<unsigned char>(key[0]))) {
            const auto dot = key.find('.');
            const std::string digits = key.substr(0, dot);
            const bool number = dot != std::string::npos && digits.size() <= 3 &&
                                std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); });
            const int index = number ? std::stoi(digits) : 0;
            if (index < 1) throw unexpected(key);
            module_name = "layers." + std::to_string(index - 1) + key.substr(dot);
        } else if (key.rfind("encoder.", 0) == 0) {
            continue;
        } else {
            throw unexpected(key);
        }
        if (!weights.emplace(module_name, std::move(tensor)).second)
            throw ModelLoadError(name + ": tensor '" + key + "' appears twice (diffusers and original names mixed)");
    }
    if (auto first = weights.find("layers.0.weight"); first != weights.end() && first->second.dim() == 4)
        config.latent_channels = static_cast<int>(first->second.size(1));
    nn::TinyDecoder decoder(config);
    nn::load_state_dict(*decoder, std::move(weights), name, "the TAESD preview decoder", target);
    decoder->eval();
    return decoder;
}

nn::CLIPTextModel load_text_encoder(const fs::path& folder, const LoadTarget& target) {
    auto tensors = read_component(folder, ModelKind::TextEncoder);
    auto model = nn::build_in<nn::CLIPTextModel>(target.dtype, io::load_config<io::CLIPTextConfig>(folder / "config.json"));
    nn::load_state_dict(*model, std::move(tensors), file_of(folder), "the CLIP text encoder", target, kClipIgnored);
    model->eval();
    return model;
}

nn::CLIPVisionModelWithProjection load_image_encoder(const fs::path& folder, const LoadTarget& target) {
    auto tensors = read_component(folder, ModelKind::ImageEncoder);
    auto model = nn::build_in<nn::CLIPVisionModelWithProjection>(target.dtype, io::load_config<io::CLIPVisionConfig>(folder / "config.json"));
    nn::load_state_dict(*model, std::move(tensors), file_of(folder), "the CLIP image encoder", target, kClipIgnored);
    model->eval();
    return model;
}

nn::ControlNetModel load_controlnet(const fs::path& folder, const LoadTarget& target) {
    auto tensors = read_component(folder, ModelKind::ControlNet);
    const auto config = io::load_config<io::ControlNetModelConfig>(folder / "config.json");
    nn::check_supported(config, file_of(folder / "config.json"));
    auto model = nn::build_in<nn::ControlNetModel>(target.dtype, config);
    nn::load_state_dict(*model, std::move(tensors), file_of(folder), "the ControlNet", target);
    model->eval();
    return model;
}

StableDiffusionNetworks load_pipeline_folder(const fs::path& folder, const LoadTarget& target) {
    std::error_code ec;
    if (!fs::is_regular_file(folder / "model_index.json", ec))
        throw ModelLoadError(io::display_path(folder) + ": model_index.json is missing (expected a diffusers pipeline folder)");
    StableDiffusionNetworks n;
    n.unet = load_unet(folder / "unet", target);
    n.vae = load_vae(folder / "vae", target);
    n.text_encoder = load_text_encoder(folder / "text_encoder", target);
    return n;
}

StableDiffusionNetworks load_single_file(const fs::path& checkpoint, const fs::path& config_root, const LoadTarget& target) {
    const std::string name = io::display_path(checkpoint);
    auto all = io::load_weights(checkpoint).tensors;
    std::vector<io::TensorInfo> infos;
    for (const auto& [key, t] : all) infos.push_back({key, "", t.sizes().vec()});
    const auto detection = io::detect_from_tensors(infos);
    if (detection.kind != ModelKind::SingleFileCheckpoint)
        throw ModelLoadError(name + ": holds a " + std::string(model_kind_name(detection.kind)) +
                             ", expected a single-file Stable Diffusion checkpoint");
    if (detection.variant != "sd1.x")
        throw ModelLoadError(name + ": " + detection.variant + " single-file checkpoints are not supported yet (SD1.x only)");

    const auto unet_config = io::load_config<io::UNet2DConditionModelConfig>(config_root / "unet" / "config.json");
    const auto vae_config = io::load_config<io::AutoencoderKLConfig>(config_root / "vae" / "config.json");
    const auto text_config = io::load_config<io::CLIPTextConfig>(config_root / "text_encoder" / "config.json");
    nn::check_supported(unet_config, file_of(config_root / "unet" / "config.json"));
    nn::check_supported(vae_config, file_of(config_root / "vae" / "config.json"));

    io::LdmLayout layout;
    layout.layers_per_block = unet_config.layers_per_block.front();
    layout.num_vae_blocks = static_cast<int>(vae_config.block_out_channels.size());
    std::map<std::string, at::Tensor> unet_w, vae_w, text_w;
    // Move each tensor to its component so no second full set exists while converting.
    for (auto it = all.begin(); it != all.end();) {
        auto node = all.extract(it++);
        const std::string& key = node.key();
        if (auto k = io::ldm_to_diffusers(key, io::LdmComponent::UNet, layout)) {
            unet_w.emplace(*k, std::move(node.mapped()));
        } else if (!take_ldm_vae_tensor(key, std::move(node.mapped()), layout, vae_w)) {
            if (auto kt = io::ldm_to_diffusers(key, io::LdmComponent::TextEncoder, layout))
                text_w.emplace(*kt, std::move(node.mapped()));
        }
    }
    StableDiffusionNetworks n;
    n.unet = nn::UNet2DConditionModel(unet_config);
    nn::load_state_dict(*n.unet, std::move(unet_w), name, "the UNet (model.diffusion_model.*)", target);
    n.vae = nn::AutoencoderKL(vae_config);
    nn::load_state_dict(*n.vae, std::move(vae_w), name, "the VAE (first_stage_model.*)", target);
    n.text_encoder = nn::CLIPTextModel(text_config);
    nn::load_state_dict(*n.text_encoder, std::move(text_w), name, "the text encoder (cond_stage_model.*)", target, kClipIgnored);
    n.unet->eval();
    n.vae->eval();
    n.text_encoder->eval();
    return n;
}

}  // namespace ips::models
