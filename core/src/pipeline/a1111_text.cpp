#include "ips/a1111_text.h"

#include <vector>

namespace ips {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\r' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The settings line looks like "Steps: 20, Sampler: Euler a, ..." (at least one "Key: value" before a comma).
bool looks_like_settings(std::string_view line) {
    const std::size_t colon = line.find(": ");
    const std::size_t comma = line.find(',');
    return colon != std::string_view::npos && colon > 0 && (comma == std::string_view::npos || colon < comma) && line.find('\n') == std::string_view::npos;
}

std::vector<std::string_view> split_fields(std::string_view settings) {
    std::vector<std::string_view> out;
    int depth = 0;
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= settings.size(); ++i) {
        const char c = i < settings.size() ? settings[i] : ',';
        if (c == '"') quoted = !quoted;
        if (!quoted && c == '(') ++depth;
        if (!quoted && c == ')' && depth > 0) --depth;
        if (c == ',' && depth == 0 && !quoted) {
            out.push_back(trim(settings.substr(start, i - start)));
            start = i + 1;
        }
        if (i == settings.size()) break;
    }
    return out;
}

}  // namespace

A1111Parameters parse_a1111_parameters(std::string_view text) {
    A1111Parameters p;
    std::vector<std::string_view> lines;
    for (std::size_t start = 0; start <= text.size();) {
        const std::size_t end = text.find('\n', start);
        lines.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    std::string_view settings;
    if (lines.size() > 1 && looks_like_settings(trim(lines.back()))) {
        settings = trim(lines.back());
        lines.pop_back();
    }
    std::vector<std::string_view> prompt_lines, negative_lines;
    bool negative = false;
    for (std::string_view line : lines) {
        constexpr std::string_view kNegative = "Negative prompt: ";
        if (!negative && line.substr(0, kNegative.size()) == kNegative) {
            negative = true;
            line.remove_prefix(kNegative.size());
        }
        (negative ? negative_lines : prompt_lines).push_back(line);
    }
    auto join = [](const std::vector<std::string_view>& parts) {
        std::string out;
        for (std::size_t i = 0; i < parts.size(); ++i) {
            if (i) out.push_back('\n');
            out.append(parts[i]);
        }
        return out;
    };
    p.prompt = join(prompt_lines);
    p.negative_prompt = join(negative_lines);
    for (std::string_view field : split_fields(settings)) {
        const std::size_t colon = field.find(": ");
        if (colon == std::string_view::npos || colon == 0) continue;
        std::string key(trim(field.substr(0, colon))), value(trim(field.substr(colon + 2)));
        p.fields.emplace(key, value);
        p.all_fields.emplace(std::move(key), std::move(value));
    }
    return p;
}

}  // namespace ips
