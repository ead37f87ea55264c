#include "ipadapter/layer_scales.h"

#include <map>
#include <set>

#include "ips/errors.h"

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

}  // namespace

std::vector<std::string> layer_modes() { return {"full", "style", "composition"}; }

std::vector<double> resolve_layer_scales(const json& scale, std::string_view mode, const std::vector<std::string>& names) {
    if (scale.is_object()) {
        if (mode != "full" && !mode.empty())
            throw InputError("IP-Adapter scale: a per-block dict cannot be combined with mode '" + std::string(mode) + "'");
        return resolve_dict(scale, names);
    }
    const double s = number(scale, "scale");
    if (mode == "full" || mode.empty()) return std::vector<double>(names.size(), s);
    if (mode != "style" && mode != "composition")
        throw InputError("IP-Adapter mode '" + std::string(mode) + "' is unknown (expected full, style or composition)");
    if (!is_sd15_layout(names))
        throw InputError("IP-Adapter mode '" + std::string(mode) + "' is defined for the SD1.5 UNet layout only");
    if (mode == "style")
        return resolve_dict(json{{"down", {{"block_0", s}, {"block_1", s}}}, {"up", {{"block_1", {0.0, 0.0, s}}, {"block_2", s}, {"block_3", s}}}},
                            names);
    return resolve_dict(json{{"down", {{"block_2", {0.25 * s, s}}}}}, names);
}

}  // namespace ips::ipadapter
