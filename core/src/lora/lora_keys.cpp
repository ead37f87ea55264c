#include "lora/lora_keys.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "io/detect.h"

namespace ips::lora {
namespace {


enum class Style { Kohya, Peft, Diffusers, DiffusersOld, Any };

struct Suffix {
    const char* text;
    LoraRole role;
    Style style;
};

// Longest first where one suffix ends another (".lora_linear_layer.down.weight" before ".lora.down.weight").
const std::vector<Suffix>& suffixes() {
    static const std::vector<Suffix> kSuffixes = {
        {".lora_down.weight", LoraRole::Down, Style::Kohya},
        {".lora_up.weight", LoraRole::Up, Style::Kohya},
        {".lora_mid.weight", LoraRole::Mid, Style::Kohya},
        {".hada_w1_a", LoraRole::HadaW1A, Style::Kohya},
        {".hada_w1_b", LoraRole::HadaW1B, Style::Kohya},
        {".hada_w2_a", LoraRole::HadaW2A, Style::Kohya},
        {".hada_w2_b", LoraRole::HadaW2B, Style::Kohya},
        {".hada_t1", LoraRole::HadaT1, Style::Kohya},
        {".hada_t2", LoraRole::HadaT2, Style::Kohya},
        {".lokr_w1_a", LoraRole::LokrW1A, Style::Kohya},
        {".lokr_w1_b", LoraRole::LokrW1B, Style::Kohya},
        {".lokr_w1", LoraRole::LokrW1, Style::Kohya},
        {".lokr_w2_a", LoraRole::LokrW2A, Style::Kohya},
        {".lokr_w2_b", LoraRole::LokrW2B, Style::Kohya},
        {".lokr_w2", LoraRole::LokrW2, Style::Kohya},
        {".lokr_t2", LoraRole::LokrT2, Style::Kohya},
        {".lora_A.weight", LoraRole::Down, Style::Peft},
        {".lora_B.weight", LoraRole::Up, Style::Peft},
        {".lora_magnitude_vector", LoraRole::DoraScale, Style::Peft},
        {".lora_linear_layer.down.weight", LoraRole::Down, Style::Diffusers},
        {".lora_linear_layer.up.weight", LoraRole::Up, Style::Diffusers},
        {"_lora.down.weight", LoraRole::Down, Style::DiffusersOld},
        {"_lora.up.weight", LoraRole::Up, Style::DiffusersOld},
        {".lora.down.weight", LoraRole::Down, Style::Diffusers},
        {".lora.up.weight", LoraRole::Up, Style::Diffusers},
        {".dora_scale", LoraRole::DoraScale, Style::Any},
        {".alpha", LoraRole::Alpha, Style::Any},
    };
    return kSuffixes;
}

bool is_unet_module(const std::string& m) {
    for (const char* p : {"down_blocks.", "mid_block.", "up_blocks.", "conv_in", "conv_out", "time_embedding."})
        if (m.starts_with(p)) return true;
    return false;
}

// Old attention-processor names: "<attn>.processor.to_q_lora" (UNet), "<self_attn>.to_q_lora" (text encoder).
std::string normalise_old_processor(std::string m, LoraPart part) {
    static const std::vector<std::pair<std::string, std::string>> kUNet = {
        {"to_q_lora", "to_q"}, {"to_k_lora", "to_k"}, {"to_v_lora", "to_v"}, {"to_out_lora", "to_out.0"}};
    static const std::vector<std::pair<std::string, std::string>> kText = {
        {"to_q_lora", "q_proj"}, {"to_k_lora", "k_proj"}, {"to_v_lora", "v_proj"}, {"to_out_lora", "out_proj"}};
    const auto processor = m.find(".processor.");
    if (processor != std::string::npos) m.erase(processor, std::string(".processor").size());
    for (const auto& [from, to] : part == LoraPart::UNet ? kUNet : kText) {
        if (m.ends_with("." + from)) return m.substr(0, m.size() - from.size()) + to;
    }
    return m;
}

LoraFormat format_of(LoraRole role, Style style, const LoraKey& key) {
    switch (role) {
        case LoraRole::HadaW1A: case LoraRole::HadaW1B: case LoraRole::HadaW2A: case LoraRole::HadaW2B:
        case LoraRole::HadaT1: case LoraRole::HadaT2:
            return LoraFormat::LoHa;
        case LoraRole::LokrW1: case LoraRole::LokrW1A: case LoraRole::LokrW1B: case LoraRole::LokrW2:
        case LoraRole::LokrW2A: case LoraRole::LokrW2B: case LoraRole::LokrT2:
            return LoraFormat::LoKr;
        default: break;
    }
    if (key.flat) {
        if (key.part == LoraPart::UNet)
            for (const char* p : {"input_blocks_", "middle_block_", "output_blocks_"})
                if (key.module.starts_with(p)) return LoraFormat::KohyaLdm;
        return LoraFormat::Kohya;
    }
    if (style == Style::Peft) return LoraFormat::Peft;
    if (style == Style::DiffusersOld) return LoraFormat::DiffusersOld;
    return LoraFormat::Diffusers;
}

}  // namespace

std::optional<LoraKey> parse_lora_key(const std::string& key) {
    const Suffix* found = nullptr;
    for (const auto& s : suffixes()) {
        if (key.ends_with(s.text)) {
            found = &s;
            break;
        }
    }
    if (!found) return std::nullopt;
    std::string module = key.substr(0, key.size() - std::string(found->text).size());
    LoraKey k;
    k.role = found->role;
    if (found->style == Style::DiffusersOld) module += "_lora";  // "...to_q" + "_lora": normalised below
    static const std::vector<std::pair<std::string, LoraPart>> kFlat = {
        {"lora_unet_", LoraPart::UNet}, {"lora_te1_", LoraPart::TextEncoder},
        {"lora_te2_", LoraPart::TextEncoder2}, {"lora_te_", LoraPart::TextEncoder}};
    static const std::vector<std::pair<std::string, LoraPart>> kDotted = {
        {"unet.", LoraPart::UNet}, {"text_encoder_2.", LoraPart::TextEncoder2},
        {"text_encoder.", LoraPart::TextEncoder}};
    bool matched = false;
    for (const auto& [prefix, part] : kFlat) {
        if (module.starts_with(prefix)) {
            k.part = part;
            k.module = module.substr(prefix.size());
            k.flat = true;
            matched = true;
            break;
        }
    }
    if (!matched) {
        for (const auto& [prefix, part] : kDotted) {
            if (module.starts_with(prefix)) {
                k.part = part;
                k.module = module.substr(prefix.size());
                matched = true;
                break;
            }
        }
    }
    if (!matched) {
        // Attention-processor files saved by unet.save_attn_procs have no component prefix.
        if (is_unet_module(module)) k.part = LoraPart::UNet, k.module = module, matched = true;
        else if (module.starts_with("text_model.")) k.part = LoraPart::TextEncoder, k.module = module, matched = true;
    }
    if (!matched || k.module.empty()) return std::nullopt;
    if (k.flat && found->style != Style::Kohya && found->style != Style::Any) return std::nullopt;
    if (!k.flat) k.module = normalise_old_processor(k.module, k.part);
    k.format = format_of(k.role, found->style, k);
    return k;
}

const char* lora_part_name(LoraPart part) {
    switch (part) {
        case LoraPart::UNet: return "UNet";
        case LoraPart::TextEncoder: return "text encoder";
        case LoraPart::TextEncoder2: return "text encoder 2";
    }
    return "?";
}

const char* lora_format_name(LoraFormat format) {
    switch (format) {
        case LoraFormat::Kohya: return "kohya";
        case LoraFormat::KohyaLdm: return "kohya (LDM names)";
        case LoraFormat::DiffusersOld: return "diffusers (attention processors)";
        case LoraFormat::Diffusers: return "diffusers";
        case LoraFormat::Peft: return "peft";
        case LoraFormat::LoHa: return "lycoris-loha";
        case LoraFormat::LoKr: return "lycoris-lokr";
    }
    return "?";
}

std::string flatten_module_name(const std::string& module) {
    std::string out = module;
    std::replace(out.begin(), out.end(), '.', '_');
    return out;
}

LoraBase lora_base_from_tensors(const std::vector<io::TensorInfo>& tensors) {
    LoraBase b;
    bool second_text_encoder = false;
    for (const auto& t : tensors) {
        const auto k = parse_lora_key(t.name);
        if (!k) continue;
        if (k->part == LoraPart::TextEncoder2) second_text_encoder = true;
        // The input width of the module's update: LoRA down [r, in(, kh, kw)], LoHa w1_b [r, in].
        if ((k->role != LoraRole::Down && k->role != LoraRole::HadaW1B) || t.shape.size() < 2) continue;
        const std::string flat = k->flat ? k->module : flatten_module_name(k->module);
        const bool attn2_kv = flat.find("attn2") != std::string::npos &&
                              (flat.ends_with("to_k") || flat.ends_with("to_v"));
        if (k->part == LoraPart::UNet && attn2_kv && b.cross_attention_dim == 0) b.cross_attention_dim = t.shape[1];
        const bool text_qkv = flat.ends_with("q_proj") || flat.ends_with("k_proj") || flat.ends_with("v_proj");
        if (k->part == LoraPart::TextEncoder && text_qkv && b.text_hidden_size == 0) b.text_hidden_size = t.shape[1];
    }
    if (second_text_encoder) b.base = "sdxl";
    else if (b.cross_attention_dim > 0) b.base = io::base_from_cross_attention_dim(b.cross_attention_dim);
    else if (b.text_hidden_size == 768) b.base = "sd1.x";
    else if (b.text_hidden_size == 1024) b.base = "sd2.x";
    else if (b.text_hidden_size > 0) b.base = "custom (text width " + std::to_string(b.text_hidden_size) + ")";
    return b;
}

LoraSummary summarize_lora(const std::vector<io::TensorInfo>& tensors) {
    LoraSummary s;
    std::map<LoraPart, std::set<std::string>> modules;
    for (const auto& t : tensors) {
        const auto k = parse_lora_key(t.name);
        if (!k) {
            ++s.other_tensors;
            continue;
        }
        ++s.lora_tensors;
        if (k->role != LoraRole::Alpha) s.formats.insert(k->format);  // alpha is written by every format
        modules[k->part].insert(k->module);
        const bool rank_role = k->role == LoraRole::Down || k->role == LoraRole::HadaW1B ||
                               k->role == LoraRole::LokrW1B || k->role == LoraRole::LokrW2B;
        if (rank_role && !t.shape.empty()) {
            const auto r = t.shape[0];
            s.rank_min = s.rank_min == 0 ? r : std::min(s.rank_min, r);
            s.rank_max = std::max(s.rank_max, r);
        }
    }
    for (const auto& [part, names] : modules) s.modules[part] = names.size();
    s.base = lora_base_from_tensors(tensors);
    return s;
}

std::vector<std::string> trigger_words(const std::map<std::string, std::string>& metadata, std::size_t limit) {
    const auto it = metadata.find("ss_tag_frequency");
    if (it == metadata.end()) return {};
    const auto doc = nlohmann::json::parse(it->second, nullptr, false);
    if (!doc.is_object()) return {};
    std::map<std::string, double> counts;
    for (const auto& [dataset, tags] : doc.items()) {
        if (!tags.is_object()) continue;
        for (const auto& [tag, count] : tags.items()) {
            std::string word = tag;
            const auto first = word.find_first_not_of(' ');
            const auto last = word.find_last_not_of(' ');
            if (first == std::string::npos) continue;
            word = word.substr(first, last - first + 1);
            counts[word] += count.is_number() ? count.get<double>() : 0.0;
        }
    }
    std::vector<std::pair<std::string, double>> sorted(counts.begin(), counts.end());
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::vector<std::string> words;
    for (const auto& [word, count] : sorted) {
        if (words.size() >= limit) break;
        words.push_back(word);
    }
    return words;
}

}  // namespace ips::lora
