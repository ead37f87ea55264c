#include "ipadapter/ip_adapter_model.h"

#include "io/detect.h"
#include "io/json_file.h"
#include "io/weights.h"
#include "ipadapter/image_projection.h"
#include "ips/errors.h"

namespace ips::ipadapter {
namespace {

namespace fs = std::filesystem;

// The official files use image_proj/ip_adapter; training checkpoints image_proj_model/adapter_modules
// (with the frozen UNet under unet.*, which is not needed).
// The reference's names (image_proj.*, ip_adapter.*) for the training script's; "" for UNet weights.
std::string normalised_name(const std::string& name) {
    auto rename = [&](const std::string& from, const std::string& to) {
        return name.rfind(from, 0) == 0 ? to + name.substr(from.size()) : std::string();
    };
    std::string key = rename("image_proj_model.", "image_proj.");
    if (key.empty()) key = rename("adapter_modules.", "ip_adapter.");
    if (key.empty()) key = name;
    return key.rfind("unet.", 0) == 0 ? std::string() : key;
}

std::map<std::string, at::Tensor> normalise_names(std::map<std::string, at::Tensor>&& tensors) {
    std::map<std::string, at::Tensor> out;
    for (auto& [name, tensor] : tensors)
        if (std::string key = normalised_name(name); !key.empty()) out.emplace(std::move(key), std::move(tensor));
    return out;
}

std::int64_t dim_of(const std::map<std::string, at::Tensor>& t, const std::string& name, std::int64_t dim) {
    auto it = t.find(name);
    return it == t.end() || it->second.dim() <= dim ? -1 : it->second.size(dim);
}

std::string encoder_family(std::int64_t width, bool hidden) {
    if (hidden) {
        if (width == 1280) return " (ViT-H/14)";
        if (width == 1664) return " (ViT-bigG/14)";
        if (width == 1024) return " (ViT-L/14)";
    } else {
        if (width == 1024) return " (ViT-H/14)";
        if (width == 1280) return " (ViT-bigG/14)";
        if (width == 768) return " (ViT-L/14)";
    }
    return "";
}

torch::nn::AnyModule build_projection(IPAdapterModelImpl& m, const io::Detection& d,
                                      const std::map<std::string, at::Tensor>& t) {
    const std::int64_t cross = m.cross_attention_dim;
    if (d.variant == "base") {
        m.projection_kind = ProjectionKind::ImageEmbeds;
        m.input_dim = dim_of(t, "image_proj.proj.weight", 1);
        const std::int64_t tokens = dim_of(t, "image_proj.proj.weight", 0) / cross;
        return torch::nn::AnyModule(ImageProjModel(m.input_dim, cross, tokens));
    }
    if (d.variant == "plus") {
        m.projection_kind = ProjectionKind::Resampler;
        ResamplerOptions o;
        o.dim = dim_of(t, "image_proj.latents", 2);
        o.num_queries = dim_of(t, "image_proj.latents", 1);
        o.embedding_dim = m.input_dim = dim_of(t, "image_proj.proj_in.weight", 1);
        o.output_dim = dim_of(t, "image_proj.proj_out.weight", 0);
        o.dim_head = 64;  // fixed in the reference; the head count follows from to_q's width
        o.heads = dim_of(t, "image_proj.layers.0.0.to_q.weight", 0) / o.dim_head;
        o.ff_mult = dim_of(t, "image_proj.layers.0.1.1.weight", 0) / o.dim;
        o.depth = 0;
        while (t.count("image_proj.layers." + std::to_string(o.depth) + ".0.to_q.weight")) ++o.depth;
        if (o.dim <= 0 || o.heads <= 0 || o.ff_mult <= 0 || o.depth == 0 || o.output_dim != cross)
            throw ModelLoadError(m.file + ": the Resampler weights (image_proj.*) are incomplete or inconsistent");
        return torch::nn::AnyModule(Resampler(o));
    }
    m.projection_kind = ProjectionKind::HiddenTokens;
    m.input_dim = dim_of(t, "image_proj.proj.0.weight", 1);
    return torch::nn::AnyModule(MLPProjModel(m.input_dim, cross));
}

}  // namespace

IPAdapterLayerImpl::IPAdapterLayerImpl(std::int64_t cross_attention_dim, std::int64_t inner_dim) {
    to_k_ip = register_module("to_k_ip", torch::nn::Linear(torch::nn::LinearOptions(cross_attention_dim, inner_dim).bias(false)));
    to_v_ip = register_module("to_v_ip", torch::nn::Linear(torch::nn::LinearOptions(cross_attention_dim, inner_dim).bias(false)));
}

at::Tensor IPAdapterModelImpl::project(const at::Tensor& embeds) {
    const auto dtype = layers.front()->to_k_ip->weight.scalar_type();
    return image_proj.forward(embeds.to(dtype));
}

std::vector<std::size_t> adapter_layer_order(const std::vector<std::string>& names) {
    std::vector<std::size_t> order;
    for (const char* part : {"down_blocks.", "up_blocks.", "mid_block."})
        for (std::size_t i = 0; i < names.size(); ++i)
            if (names[i].rfind(part, 0) == 0) order.push_back(i);
    return order;
}

bool file_uses_hidden_states(const fs::path& file) {
    std::vector<io::TensorInfo> infos;
    for (auto& info : io::read_tensor_infos(file))
        if (info.name = normalised_name(info.name); !info.name.empty()) infos.push_back(std::move(info));
    const io::Detection d = io::detect_from_tensors(infos);
    return d.kind == ModelKind::IpAdapter && (d.variant == "plus" || d.variant == "full-face");
}

IPAdapterModel load_ip_adapter(const fs::path& path, nn::UNet2DConditionModelImpl& unet, const nn::LoadTarget& target) {
    const std::string file = io::display_path(path);
    auto tensors = normalise_names(io::load_weights(path).tensors);
    std::vector<io::TensorInfo> infos;
    for (const auto& [name, t] : tensors) infos.push_back({name, "", t.sizes().vec()});
    const io::Detection d = io::detect_from_tensors(infos);
    if (d.kind != ModelKind::IpAdapter)
        throw ModelLoadError(file + ": holds a " + std::string(model_kind_name(d.kind)) +
                             ", expected an IP-Adapter (image_proj.* and ip_adapter.* weights)");
    if (d.variant == "faceid")
        throw ModelLoadError(file + ": IP-Adapter FaceID is not supported yet (it needs InsightFace face embeddings "
                                    "and a LoRA); use ip-adapter-plus-face or ip-adapter-full-face instead");
    if (d.variant != "base" && d.variant != "plus" && d.variant != "full-face")
        throw ModelLoadError(file + ": the image projection layout is not recognised (expected ImageProjModel, "
                                    "Resampler or MLPProjModel weights under image_proj.*)");

    // Same base model? Compare the key width and the number of cross-attention layers.
    auto unet_layers = unet.cross_attention_layers();
    const auto names = unet.cross_attention_layer_names();
    std::size_t adapter_layers = 0;
    while (tensors.count("ip_adapter." + std::to_string(2 * adapter_layers + 1) + ".to_k_ip.weight")) ++adapter_layers;
    const std::int64_t adapter_width = dim_of(tensors, "ip_adapter.1.to_k_ip.weight", 1);
    const std::int64_t unet_width = unet_layers.front()->to_k->weight.size(1);
    if (adapter_width != unet_width || adapter_layers != unet_layers.size())
        throw ModelLoadError(file + ": an IP-Adapter for " + io::base_from_cross_attention_dim(adapter_width) +
                             " (cross_attention_dim " + std::to_string(adapter_width) + ", " + std::to_string(adapter_layers) +
                             " attention layers); the base model is " + io::base_from_cross_attention_dim(unet_width) +
                             " (cross_attention_dim " + std::to_string(unet_width) + ", " +
                             std::to_string(unet_layers.size()) + " attention layers)");

    IPAdapterModel model;
    model->file = file;
    model->variant = d.variant;
    model->cross_attention_dim = unet_width;
    model->image_proj = build_projection(*model, d, tensors);
    model->register_module("image_proj", model->image_proj.ptr());
    auto ip_layers = model->register_module("ip_adapter", std::make_shared<torch::nn::Module>());
    model->layers.resize(unet_layers.size(), IPAdapterLayer(nullptr));
    const auto order = adapter_layer_order(names);
    for (std::size_t k = 0; k < order.size(); ++k) {
        const auto inner = unet_layers[order[k]]->to_k->weight.size(0);
        model->layers[order[k]] = ip_layers->register_module(std::to_string(2 * k + 1), IPAdapterLayer(unet_width, inner));
    }
    nn::load_state_dict(*model, std::move(tensors), file, "the IP-Adapter", target);
    model->eval();
    return model;
}

void check_image_encoder(const IPAdapterModelImpl& adapter, const io::CLIPVisionConfig& encoder, const std::string& encoder_name) {
    const bool hidden = adapter.uses_hidden_states();
    const std::int64_t gives = hidden ? encoder.hidden_size : encoder.projection_dim;
    if (gives == adapter.input_dim) return;
    const std::string what = hidden ? "hidden states" : "image_embeds";
    throw ModelLoadError(adapter.file + ": this IP-Adapter needs an image encoder with " + what + " of width " +
                         std::to_string(adapter.input_dim) + encoder_family(adapter.input_dim, hidden) + "; " +
                         encoder_name + " gives " + std::to_string(gives) + encoder_family(gives, hidden));
}

}  // namespace ips::ipadapter
