#pragma once
// An IP-Adapter file loaded for a given UNet: its image projection and, per cross-attention layer, the
// to_k_ip/to_v_ip projections of the decoupled image attention.
#include <filesystem>
#include <string>
#include <vector>

#include <torch/nn.h>

#include "io/configs.h"
#include "nn/state_dict.h"
#include "nn/unet_2d_condition.h"

namespace ips::ipadapter {

// One layer's `ip_adapter.{i}.to_k_ip` / `.to_v_ip` (no bias).
struct IPAdapterLayerImpl : torch::nn::Module {
    IPAdapterLayerImpl(std::int64_t cross_attention_dim, std::int64_t inner_dim);
    torch::nn::Linear to_k_ip{nullptr}, to_v_ip{nullptr};
};
TORCH_MODULE(IPAdapterLayer);

enum class ProjectionKind {
    ImageEmbeds,   // base / light / vit-G: ImageProjModel on the encoder's image_embeds
    Resampler,     // plus / plus-face: perceiver on hidden_states[-2]
    HiddenTokens,  // full-face: MLPProjModel on hidden_states[-2]
};

struct IPAdapterModelImpl : torch::nn::Module {
    std::string file;     // for messages
    std::string variant;  // "base", "plus", "full-face"
    ProjectionKind projection_kind = ProjectionKind::ImageEmbeds;
    std::int64_t input_dim = 0;  // image_embeds width (base) or encoder hidden size (plus, full-face)
    std::int64_t cross_attention_dim = 0;
    torch::nn::AnyModule image_proj;
    // In the UNet's forward order (down, mid, up): layers[i] serves cross_attention_layers()[i].
    std::vector<IPAdapterLayer> layers;

    bool uses_hidden_states() const { return projection_kind != ProjectionKind::ImageEmbeds; }
    // [N, D] image_embeds or [N, T, H] hidden states -> [N, tokens, cross_attention_dim]
    at::Tensor project(const at::Tensor& embeds);
};
TORCH_MODULE(IPAdapterModel);

// Loads a `.bin` or `.safetensors` adapter (`image_proj.*` + `ip_adapter.*`, or the training
// checkpoint's `image_proj_model.*` + `adapter_modules.*`) for `unet`. Throws ModelLoadError naming
// the file for FaceID adapters (not supported), unknown layouts, and adapters made for another base
// model (widths or layer count differ from the UNet's).
// Whether the adapter in `file` takes the image encoder's hidden states (plus, full-face) rather than its
// image embedding: from the file's tensor names and shapes, without building anything.
bool file_uses_hidden_states(const std::filesystem::path& file);

IPAdapterModel load_ip_adapter(const std::filesystem::path& file, nn::UNet2DConditionModelImpl& unet, const nn::LoadTarget& target);

// Throws ModelLoadError when the image encoder does not give what the adapter was trained on (e.g. a
// ViT-bigG adapter with a ViT-H encoder).
void check_image_encoder(const IPAdapterModelImpl& adapter, const io::CLIPVisionConfig& encoder, const std::string& encoder_name);

// diffusers numbers the adapter's layers over the UNet's attention processors in module order (down,
// up, mid) with odd indices: result[k] is the forward-order position of the layer `ip_adapter.{2k+1}`.
std::vector<std::size_t> adapter_layer_order(const std::vector<std::string>& forward_order_names);

}  // namespace ips::ipadapter
