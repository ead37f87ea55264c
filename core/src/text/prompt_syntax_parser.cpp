#include "text/prompt_syntax_parser.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "text/unicode.h"

namespace ips::text {
namespace {

constexpr double kRoundBracketMultiplier = 1.1;
constexpr double kSquareBracketMultiplier = 1 / 1.1;

// One match of A1111's re_attention, whose alternatives are tried in this order at each position:
//   \( \) \[ \] \\ | \ | ( | [ | :\s*([+-]?[.\d]+)\s*\) | ) | ] | [^\\()\[\]:]+ | :
// They cover every character, so the matches tile the prompt.
struct Match {
    enum Kind { Escaped, OpenRound, OpenSquare, Weight, CloseRound, CloseSquare, Text } kind;
    std::string_view text;         // the characters matched
    std::string_view literal;      // Escaped: the character after the backslash ("" for a lone one)
    std::optional<double> weight;  // Weight: the number, when Python's float() would accept it
};

// The code point starting at byte `i` and its length in bytes (an invalid byte reads as U+FFFD).
char32_t code_point_at(std::string_view s, std::size_t i, std::size_t& length) {
    const auto lead = static_cast<unsigned char>(s[i]);
    length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    length = std::min(length, s.size() - i);
    const std::u32string decoded = unicode::decode_utf8(s.substr(i, length));
    if (decoded.size() == 1) return decoded.front();
    length = 1;
    return U'\uFFFD';
}

// The code point ending just before byte `i` and its length in bytes.
char32_t code_point_before(std::string_view s, std::size_t i, std::size_t& length) {
    std::size_t start = i - 1;
    while (start > 0 && i - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80)
        --start;
    const std::u32string decoded = unicode::decode_utf8(s.substr(start, i - start));
    if (decoded.size() == 1) {
        length = i - start;
        return decoded.front();
    }
    length = 1;
    return U'\uFFFD';
}

// Python's \w and \s on str patterns (Unicode-aware).
bool is_word(char32_t c) {
    return c == U'_' || unicode::is_letter(c) || unicode::is_number(c);
}
bool is_space(char32_t c) {
    return unicode::is_python_space(c);
}

std::size_t skip_spaces(std::string_view s, std::size_t i) {
    std::size_t length = 0;
    while (i < s.size() && is_space(code_point_at(s, i, length))) i += length;
    return i;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// float() of the `[+-]?[.\d]+` group; nullopt where Python would raise (no digit, two dots).
std::optional<double> python_float(std::string_view number) {
    if (!number.empty() && number.front() == '+') number.remove_prefix(1);
    double value = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (error != std::errc() || end != number.data() + number.size()) return std::nullopt;
    return value;
}

// `:\s*([+-]?[.\d]+)\s*\)` at `i` (which holds ':'): the length of the match, 0 when it does not
// match.
std::size_t match_weight(std::string_view s, std::size_t i, std::string_view& number) {
    std::size_t k = skip_spaces(s, i + 1);
    const std::size_t number_start = k;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    const std::size_t digits_start = k;
    while (k < s.size() && (is_digit(s[k]) || s[k] == '.')) ++k;
    if (k == digits_start) return 0;
    number = s.substr(number_start, k - number_start);
    k = skip_spaces(s, k);
    if (k >= s.size() || s[k] != ')') return 0;
    return k + 1 - i;
}

Match next_match(std::string_view s, std::size_t i) {
    const char c = s[i];
    if (c == '\\') {
        const bool escapes =
            i + 1 < s.size() && std::string_view("()[]\\").find(s[i + 1]) != std::string_view::npos;
        const std::size_t length = escapes ? 2 : 1;
        return {Match::Escaped, s.substr(i, length), s.substr(i + 1, length - 1), std::nullopt};
    }
    if (c == '(') return {Match::OpenRound, s.substr(i, 1), {}, std::nullopt};
    if (c == '[') return {Match::OpenSquare, s.substr(i, 1), {}, std::nullopt};
    if (c == ':') {
        std::string_view number;
        if (const std::size_t length = match_weight(s, i, number))
            return {Match::Weight, s.substr(i, length), {}, python_float(number)};
        return {Match::Text, s.substr(i, 1), {}, std::nullopt};
    }
    if (c == ')') return {Match::CloseRound, s.substr(i, 1), {}, std::nullopt};
    if (c == ']') return {Match::CloseSquare, s.substr(i, 1), {}, std::nullopt};
    const std::size_t end = s.find_first_of("\\()[]:", i);
    return {Match::Text,
            s.substr(i, (end == std::string_view::npos ? s.size() : end) - i),
            {},
            std::nullopt};
}

// re.split(r"\s*\bBREAK\b\s*", text): the pieces between the BREAKs.
std::vector<std::string> split_at_breaks(std::string_view text) {
    static constexpr std::string_view kBreak = "BREAK";
    std::vector<std::string> parts;
    std::size_t piece_start = 0, search = 0, length = 0;
    while (true) {
        const std::size_t at = text.find(kBreak, search);
        if (at == std::string_view::npos) break;
        const std::size_t after = at + kBreak.size();
        const bool starts_word = at == 0 || !is_word(code_point_before(text, at, length));
        const bool ends_word = after == text.size() || !is_word(code_point_at(text, after, length));
        if (!starts_word || !ends_word) {
            search = at + 1;
            continue;
        }
        // The match begins with the spaces just before BREAK (not reaching into the previous
        // match).
        std::size_t begin = at;
        while (begin > piece_start && is_space(code_point_before(text, begin, length)))
            begin -= length;
        parts.emplace_back(text.substr(piece_start, begin - piece_start));
        piece_start = search = skip_spaces(text, after);
    }
    parts.emplace_back(text.substr(piece_start));
    return parts;
}

}  // namespace

std::vector<PromptFragment> parse_prompt_attention(std::string_view prompt) {
    std::vector<PromptFragment> res;
    std::vector<std::size_t> round_brackets, square_brackets;
    auto multiply_range = [&](std::size_t start, double multiplier) {
        for (std::size_t p = start; p < res.size(); ++p) res[p].weight *= multiplier;
    };
    auto pop = [](std::vector<std::size_t>& stack) {
        const std::size_t top = stack.back();
        stack.pop_back();
        return top;
    };

    for (std::size_t i = 0; i < prompt.size();) {
        const Match m = next_match(prompt, i);
        i += m.text.size();
        if (m.kind == Match::Escaped) {
            res.push_back({std::string(m.literal), 1.0});
        } else if (m.kind == Match::OpenRound) {
            round_brackets.push_back(res.size());
        } else if (m.kind == Match::OpenSquare) {
            square_brackets.push_back(res.size());
        } else if (m.kind == Match::Weight && m.weight && !round_brackets.empty()) {
            // (A1111 raises on a number float() rejects, such as "1.2.3"; here it stays literal
            // text.)
            multiply_range(pop(round_brackets), *m.weight);
        } else if (m.kind == Match::CloseRound && !round_brackets.empty()) {
            multiply_range(pop(round_brackets), kRoundBracketMultiplier);
        } else if (m.kind == Match::CloseSquare && !square_brackets.empty()) {
            multiply_range(pop(square_brackets), kSquareBracketMultiplier);
        } else {
            const auto parts = split_at_breaks(m.text);
            for (std::size_t k = 0; k < parts.size(); ++k) {
                if (k > 0) res.push_back({"BREAK", -1.0});
                res.push_back({parts[k], 1.0});
            }
        }
    }
    // Brackets left open weight everything after them.
    for (std::size_t start : round_brackets) multiply_range(start, kRoundBracketMultiplier);
    for (std::size_t start : square_brackets) multiply_range(start, kSquareBracketMultiplier);

    if (res.empty()) res.push_back({"", 1.0});
    // Runs of identical weights become one fragment.
    std::vector<PromptFragment> merged;
    for (auto& f : res) {
        if (!merged.empty() && merged.back().weight == f.weight)
            merged.back().text += f.text;
        else
            merged.push_back(std::move(f));
    }
    return merged;
}

}  // namespace ips::text
