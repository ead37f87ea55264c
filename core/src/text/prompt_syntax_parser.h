#pragma once
// Mirrors AUTOMATIC1111 stable-diffusion-webui modules/prompt_parser.py parse_prompt_attention
// (emphasis "Original"): the prompt as text fragments with attention weights.
#include <string>
#include <string_view>
#include <vector>

namespace ips::text {

struct PromptFragment {
    std::string text;
    double weight = 1.0;  // the product of the brackets around it; -1 marks a BREAK (as A1111 does)

    // A1111 tests exactly this: a BREAK inside brackets had its -1 multiplied and is plain text
    // again.
    bool is_break() const { return weight == -1.0 && text == "BREAK"; }
    bool operator==(const PromptFragment&) const = default;
};

// The fragments in order, runs of equal weights merged; never empty ("" gives one fragment ""
// at 1.0).
//   (abc) x1.1   [abc] /1.1   (abc:1.3) x1.3   \( \) \[ \] \\ literal characters
//   an unclosed ( or [ weights the rest of the prompt; a ) or ] with nothing open is literal text;
//   BREAK (upper case, a word of its own) becomes a fragment {"BREAK", -1}.
std::vector<PromptFragment> parse_prompt_attention(std::string_view prompt);

}  // namespace ips::text
