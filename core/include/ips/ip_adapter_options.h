#pragma once
// The names of the IP-Adapter controls borrowed from ComfyUI_IPAdapter_plus (weight_type,
// combine_embeds, embeds_scaling), spelled exactly as ComfyUI spells them so workflows translate
// one to one, with a one-line explanation each for tooltips and help. Standard library only: the UI
// and the request reader share these lists. docs/ip-adapter-controls.md has the formulas.
#include <string>
#include <string_view>
#include <vector>

namespace ips {

struct IpChoice {
    const char* name;
    const char* description;
};

inline const std::vector<IpChoice>& ip_weight_types() {
    static const std::vector<IpChoice> choices{
        {"linear", "The same weight on every layer (diffusers' behaviour)."},
        {"ease in", "Strong on the first layers, fading to 5% on the last."},
        {"ease out", "Weak on the first layers, rising towards full on the last."},
        {"ease in-out", "Strongest in the middle of the UNet, weak at both ends."},
        {"reverse in-out", "Strong at both ends of the UNet, weak in the middle."},
        {"weak input", "The down (input) blocks at 20%."},
        {"weak output", "The up (output) blocks at 20%."},
        {"weak middle", "The middle block at 20%."},
        {"strong middle", "Input and output blocks at 20%, the middle block at full weight."},
        {"style transfer", "Only the style layers: colours, texture, lighting, not the layout."},
        {"composition", "Only the composition layers: layout and shapes, not the style."},
        {"strong style transfer", "Every layer but the composition ones: a stronger style."},
        {"style and composition", "Two references: image 1 gives the style, image 2 the composition."},
        {"style transfer precise", "Style layers, and the composition layers steer away from the reference's layout."},
        {"composition precise", "Composition layers, and the other layers steer away from the reference's style."},
    };
    return choices;
}

inline const std::vector<IpChoice>& ip_combine_embeds_modes() {
    static const std::vector<IpChoice> choices{
        {"concat", "Every image's tokens side by side (diffusers' behaviour)."},
        {"add", "The sum of the images' embeddings."},
        {"subtract", "Image 1 minus the mean of the others."},
        {"average", "The mean of the images' embeddings."},
        {"norm average", "The mean after dividing each value by its norm across the images."},
    };
    return choices;
}

inline const std::vector<IpChoice>& ip_embeds_scaling_modes() {
    static const std::vector<IpChoice> choices{
        {"V only", "The weight scales the image attention's output (diffusers' behaviour)."},
        {"K+V", "The weight scales the image keys and values."},
        {"K+V w/ C penalty", "Keys and values scaled by weight x width/1280: softer in the high-resolution layers."},
        {"K+mean(V) w/ C penalty", "Keys and the mean of the values scaled by weight x width/1280."},
    };
    return choices;
}

// The names IP Studio used before the weight types: full, style, composition.
inline std::string canonical_ip_weight_type(std::string_view name) {
    if (name == "full" || name.empty()) return "linear";
    if (name == "style") return "style transfer";
    return std::string(name);  // "composition" is also ComfyUI's name
}

inline bool is_ip_choice(const std::vector<IpChoice>& choices, std::string_view name) {
    for (const auto& c : choices)
        if (name == c.name) return true;
    return false;
}

// "a, b or c" for error messages.
inline std::string ip_choice_list(const std::vector<IpChoice>& choices) {
    std::string out;
    for (std::size_t i = 0; i < choices.size(); ++i)
        out += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + std::string("'") + choices[i].name + "'";
    return out;
}

}  // namespace ips
