// The public face of the prompt syntaxes (ips/prompt_syntax.h).
#include "ips/prompt_syntax.h"

#include <string>

#include "ips/errors.h"
#include "text/prompt_syntax_chunks.h"

namespace ips {

std::string_view prompt_syntax_name(PromptSyntax syntax) {
    return syntax == PromptSyntax::A1111 ? "a1111" : "plain";
}

std::optional<PromptSyntax> parse_prompt_syntax(std::string_view name) {
    if (name == "plain") return PromptSyntax::Plain;
    if (name == "a1111") return PromptSyntax::A1111;
    return std::nullopt;
}

PromptSyntax prompt_syntax_or_throw(std::string_view name, std::string_view field) {
    if (auto syntax = parse_prompt_syntax(name)) return *syntax;
    throw InputError(std::string(field) + " must be plain or a1111 (got '" + std::string(name) +
                     "')");
}

PromptTokenCount count_prompt_tokens(const ClipTokenizer& tokenizer, std::string_view prompt,
                                     PromptSyntax syntax) {
    const text::ChunkedPrompt chunked = text::chunk_prompt(tokenizer, prompt, syntax);
    PromptTokenCount count;
    for (const auto& c : chunked.chunks) count.chunk_tokens.push_back(c.prompt_tokens);
    count.total_tokens = chunked.total_tokens;
    count.dropped_tokens = chunked.dropped_tokens;
    count.window = tokenizer.max_length();
    return count;
}

}  // namespace ips
