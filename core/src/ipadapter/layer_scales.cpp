#include "ipadapter/layer_scales.h"

#include <cmath>
#include <map>
#include <set>

#include "ips/errors.h"
#include "ips/ip_adapter_options.h"

namespace ips::ipadapter {
namespace {

using nlohmann::json;

// "down_blocks.2.attentions.1.transformer_blocks.0.attn2" -> {"down", 2, 1}; mid -> {"mid", 0, 0}.
struct LayerPlace {
    std::string part;
    int block = 0;
    int attention = 0;
};

LayerPlace place_of(const std::string& name) {
    LayerPlace p;
    auto number_after = [&](const std::string& marker) {
        const auto at = name.find(marker);
        return at == std::string::npos ? 0 : std::stoi(name.substr(at + marker.size()));
    };
    if (name.rfind("down_blocks.", 0) == 0) p.part = "down", p.block = number_after("down_blocks.");
    else if (name.rfind("up_blocks.", 0) == 0) p.part = "up", p.block = number_after("up_blocks.");
    else p.part = "mid";
    p.attention = number_after("attentions.");
    return p;
}

double number(const json& v, const std::string& where) {
    if (!v.is_number()) throw InputError("IP-Adapter scale: " + where + " must be a number, got " + v.dump());
    return v.get<double>();
}

// For one block: a number for all its attentions, or a list with one value (all) or one per attention.
std::vector<double> block_values(const json& v, std::size_t attentions, const std::string& where) {
    if (!v.is_array()) return std::vector<double>(attentions, number(v, where));
    if (v.size() == 1) return std::vector<double>(attentions, number(v[0], where));
    if (v.size() != attentions)
        throw InputError("IP-Adapter scale: " + where + " has " + std::to_string(v.size()) + " values, the block has " +
                         std::to_string(attentions) + " attention layers");
    std::vector<double> out;
    for (std::size_t i = 0; i < v.size(); ++i) out.push_back(number(v[i], where + "[" + std::to_string(i) + "]"));
    return out;
}

std::vector<double> resolve_dict(const json& dict, const std::vector<std::string>& names) {
    // What the UNet has: attention count per (part, block).
    std::map<std::string, std::map<int, std::size_t>> attentions;
    for (const auto& n : names) {
        const auto p = place_of(n);
        auto& count = attentions[p.part][p.block];
        count = std::max<std::size_t>(count, static_cast<std::size_t>(p.attention) + 1);
    }
    // (part, block, attention) -> scale; everything starts at 0 (diffusers' default for unnamed layers).
    std::map<std::tuple<std::string, int, int>, double> values;
    for (const auto& [key, value] : dict.items()) {
        if (key == "mid") {
            if (!attentions.count("mid")) throw InputError("IP-Adapter scale: this UNet has no mid-block attention");
            const auto v = value.is_array() && value.size() == 1 ? value[0] : value;
            for (std::size_t a = 0; a < attentions["mid"][0]; ++a) values[{"mid", 0, static_cast<int>(a)}] = number(v, "mid");
            continue;
        }
        if (key != "down" && key != "up")
            throw InputError("IP-Adapter scale: unknown key '" + key + "' (expected down, mid or up)");
        const auto& blocks = attentions[key];
        std::vector<std::pair<int, json>> named;
        if (value.is_object()) {
            for (const auto& [block_key, block_value] : value.items()) {
                if (block_key.rfind("block_", 0) != 0 || block_key.size() == 6 || block_key.size() > 9 ||
                    block_key.find_first_not_of("0123456789", 6) != std::string::npos)
                    throw InputError("IP-Adapter scale: '" + key + "." + block_key + "' is not block_N");
                const int b = std::stoi(block_key.substr(6));
                if (!blocks.count(b))
                    throw InputError("IP-Adapter scale: " + key + ".block_" + std::to_string(b) +
                                     " has no attention layers in this UNet");
                named.emplace_back(b, block_value);
            }
        } else {
            for (const auto& [b, count] : blocks) named.emplace_back(b, value);
        }
        for (const auto& [b, v] : named) {
            const auto list = block_values(v, blocks.at(b), key + ".block_" + std::to_string(b));
            for (std::size_t a = 0; a < list.size(); ++a) values[{key, b, static_cast<int>(a)}] = list[a];
        }
    }
    std::vector<double> out;
    for (const auto& n : names) {
        const auto p = place_of(n);
        auto it = values.find({p.part, p.block, p.attention});
        out.push_back(it == values.end() ? 0.0 : it->second);
    }
    return out;
}

// The SD1.5 down/mid/up layout the named modes are defined for.
bool is_sd15_layout(const std::vector<std::string>& names) {
    std::map<std::string, std::set<int>> blocks;
    for (const auto& n : names) blocks[place_of(n).part].insert(place_of(n).block);
    return names.size() == 16 && blocks["down"] == std::set<int>{0, 1, 2} && blocks["up"] == std::set<int>{1, 2, 3};
}

// ComfyUI's per-layer dicts for SD1.5 (IPAdapterPlus.py, ipadapter_execute), keyed by transformer_index
// = forward position. Layers 4 and 5 (down_blocks.2) carry the composition, the rest the style.
std::map<int, double> sd15_layer_dict(const std::string& type, double w) {
    const double composition = w;  // ComfyUI's weight_composition / style_boost; not a separate control here
    std::map<int, double> d;
    auto set = [&](std::initializer_list<int> layers, double v) {
        for (int l : layers) d[l] = v;
    };
    if (type == "style transfer") set({0, 1, 2, 3, 9, 10, 11, 12, 13, 14, 15}, w);
    else if (type == "composition") d = {{4, w * 0.25}, {5, w}};
    else if (type == "strong style transfer") set({0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, w);
    else if (type == "style and composition" || type == "style transfer precise" || type == "composition precise") {
        set({0, 1, 2, 3, 9, 10, 11, 12, 13, 14, 15}, w);
        d[4] = composition * 0.25;
        d[5] = composition;
        if (type == "composition precise") set({6, 7, 8}, w * 0.1);
    }
    return d;
}

bool is_dict_type(const std::string& type) {
    return type == "style transfer" || type == "composition" || type == "strong style transfer" ||
           type == "style and composition" || type == "style transfer precise" || type == "composition precise";
}

// The weight type's factor for layer `i` of `count` in forward order, ComfyUI's ipadapter_attention with
// its `layers` = the layer count (16 for SD1.5).
double curve_factor(const std::string& type, std::size_t i, std::size_t count, const std::string& part) {
    const double t = static_cast<double>(i), L = static_cast<double>(count);
    if (type == "ease in") return 0.05 + 0.95 * (1 - t / L);
    if (type == "ease out") return 0.05 + 0.95 * (t / L);
    if (type == "ease in-out") return 0.05 + 0.95 * (1 - std::abs(t - L / 2) / (L / 2));
    if (type == "reverse in-out") return 0.05 + 0.95 * (std::abs(t - L / 2) / (L / 2));
    if (type == "weak input") return part == "down" ? 0.2 : 1.0;
    if (type == "weak output") return part == "up" ? 0.2 : 1.0;
    if (type == "weak middle") return part == "mid" ? 0.2 : 1.0;
    if (type == "strong middle") return part == "mid" ? 1.0 : 0.2;
    return 1.0;  // linear
}

std::string checked_type(std::string_view weight_type) {
    const std::string type = canonical_ip_weight_type(weight_type);
    if (!is_ip_choice(ip_weight_types(), type))
        throw InputError("IP-Adapter weight_type '" + std::string(weight_type) + "' is unknown (expected " +
                         ip_choice_list(ip_weight_types()) + "; full and style also work)");
    return type;
}

void require_sd15(const std::string& type, const std::vector<std::string>& names) {
    if (!is_sd15_layout(names))
        throw InputError("IP-Adapter weight_type '" + type + "' is defined for the SD1.5 UNet layout only");
}

}  // namespace

std::vector<double> resolve_layer_scales(const json& scale, std::string_view weight_type, const std::vector<std::string>& names) {
    const std::string type = checked_type(weight_type);
    if (scale.is_object()) {
        if (type != "linear")
            throw InputError("IP-Adapter scale: a per-block dict cannot be combined with weight_type '" + std::string(weight_type) + "'");
        return resolve_dict(scale, names);
    }
    const double s = number(scale, "scale");
    std::vector<double> out;
    if (is_dict_type(type)) {
        require_sd15(type, names);
        const auto dict = sd15_layer_dict(type, s);
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto it = dict.find(static_cast<int>(i));
            out.push_back(it == dict.end() ? 0.0 : it->second);
        }
        return out;
    }
    for (std::size_t i = 0; i < names.size(); ++i) out.push_back(s * curve_factor(type, i, names.size(), place_of(names[i]).part));
    return out;
}

std::vector<LayerTokens> resolve_layer_tokens(std::string_view weight_type, const std::vector<std::string>& names) {
    const std::string type = checked_type(weight_type);
    std::vector<LayerTokens> out(names.size(), LayerTokens::Reference);
    if (type != "style and composition" && type != "style transfer precise" && type != "composition precise") return out;
    require_sd15(type, names);
    for (std::size_t i = 0; i < names.size(); ++i) {
        const bool composition_layer = i == 4 || i == 5;
        if (type == "style and composition" && composition_layer) out[i] = LayerTokens::Composition;
        if (type == "style transfer precise" && composition_layer) out[i] = LayerTokens::UnconditionalOnly;
        if (type == "composition precise" && !composition_layer) out[i] = LayerTokens::UnconditionalOnly;
    }
    return out;
}

}  // namespace ips::ipadapter
