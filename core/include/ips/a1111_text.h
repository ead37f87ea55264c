#pragma once
// Reading the A1111 "parameters" text that AUTOMATIC1111, Forge, ComfyUI exporters and IP Studio write
// into PNGs: the prompt lines, "Negative prompt: ..." lines, and a last line of "Key: value" fields separated
// by commas (a value may hold commas inside parentheses or quotes: "IP-Adapter: x (scale 1, style transfer)").
#include <map>
#include <string>
#include <string_view>

namespace ips {

struct A1111Parameters {
    std::string prompt;
    std::string negative_prompt;
    std::map<std::string, std::string> fields;  // "Steps" -> "25", "Size" -> "512x768", ...; the first of a repeated key
    std::multimap<std::string, std::string> all_fields;  // every field, repeated keys included (several "IP-Adapter")
};

// Never throws: text that is not in this format becomes a prompt with no fields.
A1111Parameters parse_a1111_parameters(std::string_view text);

}  // namespace ips
