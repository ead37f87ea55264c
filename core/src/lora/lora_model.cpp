#include "lora/lora_model.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include "io/detect.h"
#include "io/json_file.h"
#include "io/weights.h"
#include "lora/lora_hash.h"
#include "nn/kernels/elementwise.h"
#include "nn/kernels/openmp_scope.h"
#include "nn/weight_epoch.h"
#include "nn/state_dict.h"
#include "ips/errors.h"

namespace ips::lora {
namespace {

namespace fs = std::filesystem;



// At most `limit` items, then "and N more".
std::string list_some(const std::vector<std::string>& items, std::size_t limit = 12) {
    std::string out;
    for (std::size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
    if (items.size() > limit) out += ", and " + std::to_string(items.size() - limit) + " more";
    return out;
}

const char* role_suffix(LoraRole role) {
    switch (role) {
        case LoraRole::Down: return "down";
        case LoraRole::Up: return "up";
        case LoraRole::Alpha: return "alpha";
        case LoraRole::Mid: return "lora_mid";
        case LoraRole::DoraScale: return "dora_scale";
        case LoraRole::HadaW1A: return "hada_w1_a";
        case LoraRole::HadaW1B: return "hada_w1_b";
        case LoraRole::HadaW2A: return "hada_w2_a";
        case LoraRole::HadaW2B: return "hada_w2_b";
        case LoraRole::HadaT1: return "hada_t1";
        case LoraRole::HadaT2: return "hada_t2";
        case LoraRole::LokrW1: return "lokr_w1";
        case LoraRole::LokrW1A: return "lokr_w1_a";
        case LoraRole::LokrW1B: return "lokr_w1_b";
        case LoraRole::LokrW2: return "lokr_w2";
        case LoraRole::LokrW2A: return "lokr_w2_a";
        case LoraRole::LokrW2B: return "lokr_w2_b";
        case LoraRole::LokrT2: return "lokr_t2";
    }
    return "?";
}

// kohya names after the original LDM UNet (lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q):
// the block indices are parsed here, the module inside the block is found through the LDM key map.
std::optional<std::string> resolve_ldm_flat(const std::string& flat, const LoraTargets& t) {
    auto take_number = [](std::string& s, int& n) {
        std::size_t i = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == 0 || i > 6) return false;
        n = std::stoi(s.substr(0, i));
        s.erase(0, i);
        if (!s.empty()) {
            if (s[0] != '_') return false;
            s.erase(0, 1);
        }
        return true;
    };
    std::string rest = flat;
    std::string block;
    int i = 0, j = 0;
    for (const char* p : {"input_blocks_", "output_blocks_"}) {
        if (!rest.starts_with(p)) continue;
        rest.erase(0, std::string(p).size());
        if (!take_number(rest, i) || !take_number(rest, j)) return std::nullopt;
        block = std::string(p).substr(0, std::string(p).size() - 1) + "." + std::to_string(i) + "." + std::to_string(j);
    }
    if (block.empty() && rest.starts_with("middle_block_")) {
        rest.erase(0, std::string("middle_block_").size());
        if (!take_number(rest, i)) return std::nullopt;
        block = "middle_block." + std::to_string(i);
    }
    if (block.empty()) {
        for (const char* p : {"time_embed_", "out_"}) {
            if (!rest.starts_with(p)) continue;
            rest.erase(0, std::string(p).size());
            if (!take_number(rest, i) || !rest.empty()) return std::nullopt;
            block = std::string(p).substr(0, std::string(p).size() - 1) + "." + std::to_string(i);
        }
    }
    if (block.empty()) return std::nullopt;
    static const std::map<std::string, std::string> kInner = {
        {"in_layers_0", "in_layers.0"},   {"in_layers_2", "in_layers.2"},   {"out_layers_0", "out_layers.0"},
        {"out_layers_3", "out_layers.3"}, {"emb_layers_1", "emb_layers.1"}, {"skip_connection", "skip_connection"},
        {"op", "op"},                     {"conv", "conv"}};
    const std::string prefix = "model.diffusion_model." + block + ".";
    std::optional<std::string> name;
    if (rest.empty()) {
        name = io::ldm_to_diffusers("model.diffusion_model." + block + ".weight", io::LdmComponent::UNet, t.ldm);
    } else if (auto it = kInner.find(rest); it != kInner.end()) {
        name = io::ldm_to_diffusers(prefix + it->second + ".weight", io::LdmComponent::UNet, t.ldm);
    } else {
        // Inside a transformer block the names are the same in both layouts: find the block's diffusers
        // prefix with a probe and look the flat remainder up among the model's modules.
        const auto probe = io::ldm_to_diffusers(prefix + "@.weight", io::LdmComponent::UNet, t.ldm);
        if (!probe) return std::nullopt;
        const auto at = probe->find("@.weight");
        if (at == std::string::npos) return std::nullopt;
        const auto found = t.flat.find(flatten_module_name(probe->substr(0, at)) + rest);
        if (found == t.flat.end()) return std::nullopt;
        return found->second;
    }
    if (!name || !name->ends_with(".weight")) return std::nullopt;
    const std::string module = name->substr(0, name->size() - std::string(".weight").size());
    if (!t.weights.count(module)) return std::nullopt;
    return module;
}

std::optional<std::string> resolve_module(const LoraModuleUpdate& m, const LoraTargets& t) {
    if (!t.present) return std::nullopt;
    if (!m.flat) {
        if (t.weights.count(m.module)) return m.module;
        return std::nullopt;
    }
    if (auto it = t.flat.find(m.module); it != t.flat.end()) return it->second;
    if (m.part == LoraPart::UNet) return resolve_ldm_flat(m.module, t);
    return std::nullopt;
}

double scalar_of(const at::Tensor& t) { return t.to(at::kDouble).reshape({-1})[0].item<double>(); }

// Checks the update's tensors against the target shape and returns alpha / rank; problems go to `errors`.
double check_update(const LoraModuleUpdate& m, const std::vector<std::int64_t>& target, std::vector<std::string>& errors) {
    const std::string where = m.keys.empty() ? m.module : m.keys.front().substr(0, m.keys.front().rfind('.'));
    auto has = [&](LoraRole r) { return m.tensors.count(r) != 0; };
    auto get = [&](LoraRole r) { return m.tensors.at(r); };
    auto fail = [&](const std::string& what) {
        errors.push_back(where + ": " + what);
        return 1.0;
    };
    std::optional<double> alpha;
    if (has(LoraRole::Alpha)) {
        if (get(LoraRole::Alpha).numel() != 1) return fail("alpha is not a single number");
        alpha = scalar_of(get(LoraRole::Alpha));
    }
    const bool conv_target = target.size() == 4;
    const std::int64_t out = target[0];
    const std::int64_t in = target[1];
    const std::int64_t kernel = conv_target ? target[2] * target[3] : 1;
    const std::string target_kind =
        conv_target ? std::to_string(target[2]) + "x" + std::to_string(target[3]) + " convolution " + nn::shape_text(target)
                    : "linear layer " + nn::shape_text(target);
    if (m.format == LoraFormat::LoHa) {
        for (auto r : {LoraRole::HadaW1A, LoraRole::HadaW1B, LoraRole::HadaW2A, LoraRole::HadaW2B})
            if (!has(r)) return fail(std::string("LoHa update without ") + role_suffix(r));
        const auto w1a = get(LoraRole::HadaW1A), w1b = get(LoraRole::HadaW1B);
        const auto w2a = get(LoraRole::HadaW2A), w2b = get(LoraRole::HadaW2B);
        if (w1a.dim() != 2 || w1b.dim() != 2 || w2a.dim() != 2 || w2b.dim() != 2)
            return fail("LoHa factors must be matrices");
        if (w1a.size(1) != w1b.size(0) || w2a.size(1) != w2b.size(0))
            return fail("rank mismatch: hada_w1_a " + nn::shape_text(w1a.sizes()) + " / hada_w1_b " + nn::shape_text(w1b.sizes()) +
                        ", hada_w2_a " + nn::shape_text(w2a.sizes()) + " / hada_w2_b " + nn::shape_text(w2b.sizes()));
        if (w1a.size(0) != out || w2a.size(0) != out || w1b.size(1) != in * kernel || w2b.size(1) != in * kernel)
            return fail("LoHa update [" + std::to_string(w1a.size(0)) + ", " + std::to_string(w1b.size(1)) +
                        "] does not fit the " + target_kind);
        const double rank = static_cast<double>(w1b.size(0));
        return alpha ? *alpha / rank : 1.0;
    }
    if (m.format == LoraFormat::LoKr) {
        const bool w1 = has(LoraRole::LokrW1) || (has(LoraRole::LokrW1A) && has(LoraRole::LokrW1B));
        const bool w2 = has(LoraRole::LokrW2) || (has(LoraRole::LokrW2A) && has(LoraRole::LokrW2B));
        if (!w1 || !w2) return fail("LoKr update needs lokr_w1 (or lokr_w1_a + lokr_w1_b) and lokr_w2 (or lokr_w2_a + lokr_w2_b)");
        std::int64_t o1, i1, o2, i2;
        if (has(LoraRole::LokrW1)) {
            const auto t = get(LoraRole::LokrW1);
            if (t.dim() != 2) return fail("lokr_w1 must be a matrix");
            o1 = t.size(0), i1 = t.size(1);
        } else {
            const auto a = get(LoraRole::LokrW1A), b = get(LoraRole::LokrW1B);
            if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(0))
                return fail("rank mismatch: lokr_w1_a " + nn::shape_text(a.sizes()) + " / lokr_w1_b " + nn::shape_text(b.sizes()));
            o1 = a.size(0), i1 = b.size(1);
        }
        std::int64_t w2_numel;
        if (has(LoraRole::LokrW2)) {
            const auto t = get(LoraRole::LokrW2);
            if (t.dim() != 2 && t.dim() != 4) return fail("lokr_w2 must be a matrix or a convolution kernel");
            if (t.dim() == 4 && (!conv_target || t.size(2) != target[2] || t.size(3) != target[3]))
                return fail("lokr_w2 " + nn::shape_text(t.sizes()) + " does not fit the " + target_kind);
            o2 = t.size(0), w2_numel = t.numel();
        } else {
            const auto a = get(LoraRole::LokrW2A), b = get(LoraRole::LokrW2B);
            if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(0))
                return fail("rank mismatch: lokr_w2_a " + nn::shape_text(a.sizes()) + " / lokr_w2_b " + nn::shape_text(b.sizes()));
            o2 = a.size(0), w2_numel = a.size(0) * b.size(1);
        }
        i2 = o2 > 0 ? w2_numel / o2 / kernel : 0;
        if (o1 * o2 != out || i1 * i2 != in || o2 * i2 * kernel != w2_numel)
            return fail("LoKr update kron(" + nn::shape_text(std::vector<std::int64_t>{o1, i1}) + ", [" + std::to_string(o2) + ", ...]) does not fit the " +
                        target_kind);
        double dim = 0;
        if (has(LoraRole::LokrW1B)) dim = static_cast<double>(get(LoraRole::LokrW1B).size(0));
        if (has(LoraRole::LokrW2B)) dim = static_cast<double>(get(LoraRole::LokrW2B).size(0));
        return alpha && dim > 0 ? *alpha / dim : 1.0;
    }
    if (!has(LoraRole::Down) || !has(LoraRole::Up))
        return fail(std::string("LoRA update without its ") + (has(LoraRole::Down) ? "up" : "down") + " weight");
    const auto down = get(LoraRole::Down), up = get(LoraRole::Up);
    if ((down.dim() != 2 && down.dim() != 4) || (up.dim() != 2 && up.dim() != 4))
        return fail("down " + nn::shape_text(down.sizes()) + " / up " + nn::shape_text(up.sizes()) + " are neither linear nor convolution weights");
    const std::int64_t rank = down.size(0);
    if (up.size(1) != rank)
        return fail("rank mismatch: down " + nn::shape_text(down.sizes()) + " has rank " + std::to_string(rank) + ", up " +
                    nn::shape_text(up.sizes()) + " has rank " + std::to_string(up.size(1)));
    if (up.dim() == 4 && (up.size(2) != 1 || up.size(3) != 1))
        return fail("up " + nn::shape_text(up.sizes()) + " is not a 1x1 convolution");
    if (down.dim() == 4 && (down.size(2) != 1 || down.size(3) != 1)) {
        if (!conv_target)
            return fail("a " + std::to_string(down.size(2)) + "x" + std::to_string(down.size(3)) +
                        " convolution LoRA (down " + nn::shape_text(down.sizes()) + ") on a " + target_kind);
        if (down.size(2) != target[2] || down.size(3) != target[3])
            return fail("convolution LoRA kernel " + nn::shape_text(down.sizes()) + " does not fit the " + target_kind);
    } else if (conv_target && kernel != 1) {
        return fail("a linear LoRA (down " + nn::shape_text(down.sizes()) + ") on a " + target_kind);
    }
    if (up.size(0) != out || down.size(1) != in)
        return fail("LoRA update [" + std::to_string(up.size(0)) + ", " + std::to_string(down.size(1)) + "] does not fit the " +
                    target_kind);
    return alpha ? *alpha / static_cast<double>(rank) : 1.0;
}

LoraTargets targets_of(torch::nn::Module& module) {
    LoraTargets t;
    t.present = true;
    for (const auto& p : module.named_parameters()) {
        const auto& name = p.key();
        if (!name.ends_with(".weight") || (p.value().dim() != 2 && p.value().dim() != 4)) continue;
        const std::string m = name.substr(0, name.size() - std::string(".weight").size());
        t.weights[m] = p.value().sizes().vec();
        t.flat[flatten_module_name(m)] = m;
    }
    return t;
}

std::string file_stamp(const fs::path& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    const auto time = fs::last_write_time(path, ec).time_since_epoch().count();
    return std::to_string(size) + ":" + std::to_string(time);
}

}  // namespace

LoraFileContents read_lora_file(const fs::path& path) {
    const std::string name = io::display_path(path);
    io::Weights w = io::load_weights(path);  // ModelLoadError for unreadable / truncated / corrupt files
    LoraFileContents c;
    c.path = path;
    c.metadata = w.metadata;
    std::map<std::tuple<int, std::string, bool>, std::size_t> index;
    std::vector<io::TensorInfo> infos;
    for (const auto& [key, tensor] : w.tensors) {
        infos.push_back({key, std::string(c10::toString(tensor.scalar_type())), tensor.sizes().vec()});
        const auto k = parse_lora_key(key);
        if (!k) {
            c.unknown_keys.push_back(key);
            continue;
        }
        const auto id = std::make_tuple(static_cast<int>(k->part), k->module, k->flat);
        auto it = index.find(id);
        if (it == index.end()) {
            it = index.emplace(id, c.modules.size()).first;
            LoraModuleUpdate m;
            m.part = k->part;
            m.module = k->module;
            m.flat = k->flat;
            m.format = k->format;
            c.modules.push_back(std::move(m));
        }
        auto& m = c.modules[it->second];
        if (k->format == LoraFormat::LoHa || k->format == LoraFormat::LoKr) m.format = k->format;
        if (m.tensors.count(k->role))
            throw ModelLoadError(name + ": two tensors for the same part of module " + k->module + " (" + key + ")");
        m.tensors[k->role] = tensor;
        m.keys.push_back(key);
    }
    if (c.modules.empty()) {
        const auto d = io::detect_from_tensors(infos);
        if (d.kind != ModelKind::Unknown)
            throw ModelLoadError(name + ": this is a " + std::string(model_kind_name(d.kind)) + ", not a LoRA");
        throw ModelLoadError(name + ": not a LoRA: none of its " + std::to_string(w.tensors.size()) +
                             " tensors has a LoRA name (lora_unet_*.lora_down.weight, unet.*.lora_A.weight, ...)");
    }
    std::vector<std::string> problems;
    for (const auto& m : c.modules) {
        for (const auto& [role, t] : m.tensors) {
            if (role == LoraRole::DoraScale) problems.push_back(m.module + ": DoRA (dora_scale) is not supported");
            else if (role == LoraRole::Mid || role == LoraRole::HadaT1 || role == LoraRole::HadaT2 || role == LoraRole::LokrT2)
                problems.push_back(m.module + ": Tucker-decomposed convolutions (" + role_suffix(role) + ") are not supported");
            if (!at::isFloatingType(t.scalar_type())) {
                problems.push_back(m.module + "." + role_suffix(role) + ": dtype " + c10::toString(t.scalar_type()) +
                                   ", expected floating point");
                continue;
            }
            if (!at::isfinite(t).all().item<bool>())
                problems.push_back(m.module + "." + role_suffix(role) + ": holds NaN or infinite values");
        }
    }
    if (!problems.empty()) throw ModelLoadError(name + ": " + list_some(problems));
    c.base = lora_base_from_tensors(infos);
    return c;
}

LoraTargets unet_targets(nn::UNet2DConditionModelImpl& unet) {
    LoraTargets t = targets_of(unet);
    const auto& cfg = unet.config;
    t.width = cfg.cross_attention_dim.empty() ? 0 : cfg.cross_attention_dim.front();
    t.base = io::base_from_cross_attention_dim(t.width);
    if (!cfg.layers_per_block.empty()) t.ldm.layers_per_block = cfg.layers_per_block.front();
    return t;
}

LoraTargets text_encoder_targets(nn::CLIPTextModelImpl& text_encoder) {
    LoraTargets t = targets_of(text_encoder);
    t.width = text_encoder.config.hidden_size;
    return t;
}

ResolvedLora resolve_lora(const LoraFileContents& c, const LoraTargets& unet, const LoraTargets& text_encoder) {
    const std::string name = io::display_path(c.path);
    // Another base: refused as a whole, before the per-module mismatches it would cause.
    const auto& b = c.base;
    const bool other_cross = b.cross_attention_dim > 0 && b.cross_attention_dim != unet.width;
    const bool other_text = b.text_hidden_size > 0 && text_encoder.present && b.text_hidden_size != text_encoder.width;
    if (b.base == "sdxl" || other_cross || other_text) {
        std::string widths;
        if (b.cross_attention_dim > 0)
            widths += "cross-attention width " + std::to_string(b.cross_attention_dim) + " (model: " + std::to_string(unet.width) + ")";
        if (b.text_hidden_size > 0)
            widths += std::string(widths.empty() ? "" : ", ") + "text-encoder width " + std::to_string(b.text_hidden_size) +
                      " (model: " + std::to_string(text_encoder.width) + ")";
        throw ModelLoadError(name + ": a LoRA for " + (b.base.empty() ? "another base model" : b.base) +
                             ", but the loaded model is " + unet.base + (widths.empty() ? "" : ": " + widths));
    }
    ResolvedLora r;
    r.path = c.path;
    r.metadata = c.metadata;
    std::vector<std::string> unmatched = c.unknown_keys;
    std::vector<std::string> problems;
    for (const auto& m : c.modules) {
        const LoraTargets& t = m.part == LoraPart::UNet ? unet : text_encoder;
        const auto module = m.part == LoraPart::TextEncoder2 ? std::nullopt : resolve_module(m, t);
        if (!module) {
            unmatched.push_back(m.keys.empty() ? m.module : m.keys.front());
            continue;
        }
        ResolvedUpdate u;
        u.part = m.part;
        u.param = *module + ".weight";
        u.shape = t.weights.at(*module);
        u.update = m;
        u.scale = check_update(m, u.shape, problems);
        r.updates.push_back(std::move(u));
    }
    if (!unmatched.empty()) {
        std::sort(unmatched.begin(), unmatched.end());
        throw ModelLoadError(name + ": " + std::to_string(unmatched.size()) + " of " +
                             std::to_string(c.modules.size() + c.unknown_keys.size()) +
                             " LoRA modules match no module of the model: " + list_some(unmatched, 20));
    }
    if (!problems.empty()) throw ModelLoadError(name + ": " + list_some(problems));
    for (const auto& u : r.updates)
        if (!std::isfinite(u.scale)) throw ModelLoadError(name + ": " + u.param + ": alpha / rank is not finite");
    return r;
}

at::Tensor delta_weight(const ResolvedUpdate& u, at::ScalarType dtype, const at::Device& device) {
    const auto& t = u.update.tensors;
    auto get = [&](LoraRole r) { return t.at(r).to(device, dtype); };
    const at::IntArrayRef shape(u.shape);
    at::Tensor d;
    if (u.update.format == LoraFormat::LoHa) {
        const auto w1 = at::mm(get(LoraRole::HadaW1A), get(LoraRole::HadaW1B));
        const auto w2 = at::mm(get(LoraRole::HadaW2A), get(LoraRole::HadaW2B));
        d = (w1 * w2).reshape(shape);
    } else if (u.update.format == LoraFormat::LoKr) {
        const auto w1 = t.count(LoraRole::LokrW1) ? get(LoraRole::LokrW1) : at::mm(get(LoraRole::LokrW1A), get(LoraRole::LokrW1B));
        at::Tensor w2 = t.count(LoraRole::LokrW2) ? get(LoraRole::LokrW2) : at::mm(get(LoraRole::LokrW2A), get(LoraRole::LokrW2B));
        if (shape.size() == 4) {
            if (w2.dim() == 2) w2 = w2.reshape({w2.size(0), -1, shape[2], shape[3]});
            d = at::kron(w1.unsqueeze(2).unsqueeze(3), w2).reshape(shape);
        } else {
            d = at::kron(w1, w2).reshape(shape);
        }
    } else {
        const auto up = get(LoraRole::Up).flatten(1);
        const auto down = get(LoraRole::Down).flatten(1);
        d = at::mm(up, down).reshape(shape);
    }
    return u.scale == 1.0 ? d : d * u.scale;
}

namespace {

// A float32 buffer reused for every parameter of one apply(): allocated (and page-faulted) once for the
// largest, instead of once per parameter.
class DeltaBuffer {
public:
    // A float32 tensor of `like`'s sizes and strides (any dense layout), uninitialised.
    at::Tensor like(const at::Tensor& like) {
        const auto n = static_cast<std::size_t>(like.numel());
        if (storage_.size() < n) storage_.resize(n);
        return at::from_blob(storage_.data(), like.sizes(), like.strides(), at::TensorOptions().dtype(at::kFloat));
    }

private:
    std::vector<float> storage_;
};

// The weight's elements in memory order as a [out, rest] matrix and the matching `down` rows: contiguous
// weights read [out][in][kh][kw], channels-last convolutions [out][kh][kw][in], so `down` is permuted to
// the same order and up @ down lands in the parameter's own layout.
bool gemm_layout(const at::Tensor& param, const at::Tensor& down, at::Tensor& down_in_order) {
    if (param.is_contiguous()) {
        down_in_order = down.flatten(1);
        return true;
    }
    if (param.dim() == 4 && param.is_contiguous(at::MemoryFormat::ChannelsLast)) {
        const auto d = down.dim() == 4 ? down : down.reshape({down.size(0), param.size(1), param.size(2), param.size(3)});
        down_in_order = d.permute({0, 2, 3, 1}).reshape({down.size(0), -1});
        return true;
    }
    return false;
}

// delta = sum_i weight_i * scale_i * dW_i, in float32 and in `delta`'s (the parameter's) layout. Plain LoRA
// modules (nearly every file) go through one GEMM each, written straight into the buffer: no dW tensor and no
// separate scale and add passes, which are what a merge's time is made of (large matrices, small rank).
void sum_deltas(at::Tensor& delta, const std::vector<std::pair<const ResolvedUpdate*, double>>& updates) {
    bool first = true;
    for (const auto& [u, weight] : updates) {
        const auto& t = u->update.tensors;
        const bool plain = u->update.format != LoraFormat::LoHa && u->update.format != LoraFormat::LoKr;
        at::Tensor down;
        if (plain && gemm_layout(delta, t.at(LoraRole::Down), down)) {
            const auto up = t.at(LoraRole::Up).to(at::kFloat).flatten(1);
            auto out = at::from_blob(delta.data_ptr(), {delta.size(0), delta.numel() / delta.size(0)}, delta.options());
            at::addmm_out(out, out, up, down.to(at::kFloat), /*beta=*/first ? 0.0 : 1.0, /*alpha=*/weight * u->scale);
        } else if (first) {
            delta.copy_(delta_weight(*u, at::kFloat, delta.device()).mul_(weight));
        } else {
            delta.add_(delta_weight(*u, at::kFloat, delta.device()), weight);
        }
        first = false;
    }
}

// param = original + delta, rounded once to the parameter's dtype. bfloat16 (the app's default) in one fused
// pass that reads each original and delta value once.
// Split over `threads` std::threads, not OpenMP: see SerialOpenMpScope (with OpenMP here and in the small
// conversions, the merge ran 2x slower).
void write_merged(at::Tensor& param, const at::Tensor& original, const at::Tensor& delta, int threads) {
    const bool same_layout = param.strides() == original.strides() && param.strides() == delta.strides();
    if (param.scalar_type() == at::kBFloat16 && same_layout && param.is_non_overlapping_and_dense()) {
        const auto* base = reinterpret_cast<const std::uint16_t*>(original.data_ptr());
        const float* d = delta.data_ptr<float>();
        auto* out = reinterpret_cast<std::uint16_t*>(param.data_ptr());
        const std::int64_t n = param.numel();
        const int parts = n < (1 << 20) ? 1 : std::max(1, threads);  // small ones: a thread costs more than it saves
        const std::int64_t per = (n + parts - 1) / parts;
        std::vector<std::jthread> helpers;
        for (int i = 1; i < parts; ++i) {
            const std::int64_t start = i * per, count = std::min(per, n - start);
            if (count > 0) helpers.emplace_back([=] { nn::kernels::add_f32_to_bf16(base + start, d + start, count, out + start); });
        }
        nn::kernels::add_f32_to_bf16(base, d, std::min(per, n), out);
    } else if (param.scalar_type() == at::kFloat) {
        at::add_out(param, original, delta);
    } else {
        param.copy_(original.to(at::kFloat).add_(delta));
    }
}

}  // namespace

void LoraState::apply(nn::UNet2DConditionModelImpl& unet, nn::CLIPTextModelImpl* text_encoder,
                      const std::vector<LoraRequest>& loras) {
    // 1. Read and check everything; nothing changes before this loop ends.
    for (const auto& l : loras) {
        if (!std::isfinite(l.weight))
            throw InputError(io::display_path(l.path) + ": LoRA weight must be a finite number");
    }
    const LoraTargets unet_t = unet_targets(unet);
    const LoraTargets text_t = text_encoder ? text_encoder_targets(*text_encoder) : LoraTargets{};
    std::map<std::string, Cached> files;
    std::vector<std::pair<std::string, double>> active;
    std::string signature;
    for (const auto& l : loras) {
        std::error_code ec;
        if (!fs::is_regular_file(l.path, ec))
            throw InputError(io::display_path(l.path) + ": LoRA file not found");
        const std::string key = io::display_path(fs::weakly_canonical(l.path, ec));
        const std::string stamp = file_stamp(l.path);
        if (!files.count(key)) {
            auto it = files_.find(key);
            if (it != files_.end() && it->second.stamp == stamp) {
                files[key] = it->second;
            } else {
                auto resolved = resolve_lora(read_lora_file(l.path), unet_t, text_t);
                lora_short_hash(l.path);  // here, on the worker thread: the PNG's "Lora hashes" then costs nothing
                files[key] = Cached{stamp, std::make_shared<const ResolvedLora>(std::move(resolved))};
            }
        }
        active.emplace_back(key, l.weight);
        std::ostringstream s;
        s.precision(17);
        s << key << "@" << stamp << ":" << l.weight << ";";
        signature += s.str();
    }
    // 2. What every parameter should hold.
    std::map<std::string, Contributions> wanted;
    std::map<std::string, std::vector<std::pair<const ResolvedUpdate*, double>>> updates;
    for (const auto& [key, weight] : active) {
        for (const auto& u : files.at(key).lora->updates) {
            const std::string p = (u.part == LoraPart::UNet ? "unet." : "text_encoder.") + u.param;
            wanted[p].emplace_back(key, weight);
            updates[p].emplace_back(&u, weight);
        }
    }
    // 3. Write the parameters whose contributions changed, from their originals.
    // Inside InferenceMode: in-place writes are allowed both to normal parameters and to the inference
    // tensors of networks loaded under InferenceMode (the engine loads them so).
    c10::InferenceMode inference;
    torch::NoGradGuard no_grad;
    auto unet_params = unet.named_parameters();
    auto text_params = text_encoder ? text_encoder->named_parameters() : torch::OrderedDict<std::string, at::Tensor>{};
    auto param_of = [&](const std::string& p) -> at::Tensor& {
        if (p.starts_with("unet.")) return unet_params[p.substr(5)];
        return text_params[p.substr(std::string("text_encoder.").size())];
    };
    std::vector<std::string> names;
    for (const auto& [p, c] : applied_) names.push_back(p);
    for (const auto& [p, c] : wanted)
        if (!applied_.count(p)) names.push_back(p);
    last_written_ = 0;
    DeltaBuffer buffer;
    // LibTorch's OpenMP pool kept out of the loop (the small conversions there would start it): see write_merged.
    const nn::kernels::SerialOpenMpScope serial_openmp;
    const int threads_before = serial_openmp.threads_before();
    for (const auto& p : names) {
        const auto want = wanted.find(p);
        const auto have = applied_.find(p);
        if (want != wanted.end() && have != applied_.end() && want->second == have->second) continue;
        at::Tensor& param = param_of(p);
        auto orig = originals_.find(p);
        if (orig == originals_.end()) orig = originals_.emplace(p, param.detach().clone()).first;
        ++last_written_;
        if (want == wanted.end()) {
            param.copy_(orig->second);
            originals_.erase(orig);
            applied_.erase(have);
            continue;
        }
        if (param.scalar_type() == at::kDouble) {
            at::Tensor acc = orig->second.clone(at::MemoryFormat::Contiguous);
            for (const auto& [u, weight] : updates.at(p)) acc.add_(delta_weight(*u, at::kDouble, acc.device()), weight);
            param.copy_(acc);
        } else {
            at::Tensor delta = param.is_non_overlapping_and_dense() ? buffer.like(param) : at::empty(param.sizes(), at::kFloat);
            sum_deltas(delta, updates.at(p));
            write_merged(param, orig->second, delta, threads_before);
        }
        applied_[p] = want->second;
    }
    if (last_written_ > 0) nn::weights_changed_in_place();  // packed and phase-kernel copies follow the merge
    files_ = std::move(files);
    signature_ = std::move(signature);
}

}  // namespace ips::lora
