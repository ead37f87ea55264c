#include "text/unicode.h"

#include <algorithm>
#include <cstdint>

#include "text/unicode_tables.h"

namespace ips::unicode {
namespace t = unicode_tables;
namespace {

bool in_ranges(const t::CodepointRange* ranges, std::size_t size, char32_t cp) {
    const auto* end = ranges + size;
    const auto* it = std::upper_bound(ranges, end, cp, [](char32_t value, const t::CodepointRange& r) {
        return value < r.first;
    });
    if (it == ranges) return false;
    --it;
    return cp <= it->last;
}

std::uint8_t combining_class(char32_t cp) {
    const auto* end = t::combining_classes + t::combining_classes_size;
    const auto* it = std::lower_bound(t::combining_classes, end, cp,
                                      [](const t::CombiningClass& c, char32_t v) { return c.cp < v; });
    return (it != end && it->cp == cp) ? it->ccc : 0;
}

// Hangul syllables decompose and compose algorithmically (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount;
constexpr char32_t kSCount = kLCount * kNCount;

void decompose_into(std::u32string& out, char32_t cp) {
    if (cp >= kSBase && cp < kSBase + kSCount) {
        const char32_t s = cp - kSBase;
        out.push_back(kLBase + s / kNCount);
        out.push_back(kVBase + (s % kNCount) / kTCount);
        if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
        return;
    }
    const auto* end = t::decompositions + t::decompositions_size;
    const auto* it = std::lower_bound(t::decompositions, end, cp,
                                      [](const t::Decomposition& d, char32_t v) { return d.cp < v; });
    if (it == end || it->cp != cp) {
        out.push_back(cp);
        return;
    }
    for (char32_t c : it->to) {
        if (c == 0) break;
        out.push_back(c);
    }
}

// Returns 0 when the pair has no primary composite.
char32_t compose_pair(char32_t a, char32_t b) {
    if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
        return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
    if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
        b < kTBase + kTCount)
        return a + (b - kTBase);
    const auto* end = t::compositions + t::compositions_size;
    const auto* it = std::lower_bound(t::compositions, end, std::make_pair(a, b),
                                      [](const t::Composition& c, const std::pair<char32_t, char32_t>& v) {
                                          return c.first < v.first ||
                                                 (c.first == v.first && c.second < v.second);
                                      });
    return (it != end && it->first == a && it->second == b) ? it->composite : 0;
}

}  // namespace

std::u32string decode_utf8(std::string_view text) {
    std::u32string out;
    out.reserve(text.size());
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = s[i];
        int len = 0;
        char32_t cp = 0, min = 0;
        if (c < 0x80) {
            out.push_back(c);
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        }
        bool ok = len > 0 && i + len <= n;
        for (int k = 1; ok && k < len; ++k) {
            if ((s[i + k] & 0xC0) != 0x80) ok = false;
            else cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
        if (!ok) {
            out.push_back(0xFFFD);
            ++i;
            continue;
        }
        out.push_back(cp);
        i += len;
    }
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string encode_utf8(std::u32string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t cp : text) append_utf8(out, cp);
    return out;
}

bool is_letter(char32_t cp) { return in_ranges(t::letter_ranges, t::letter_ranges_size, cp); }
bool is_number(char32_t cp) { return in_ranges(t::number_ranges, t::number_ranges_size, cp); }
bool is_other(char32_t cp) { return in_ranges(t::other_ranges, t::other_ranges_size, cp); }
bool is_space_separator(char32_t cp) {
    return in_ranges(t::space_separator_ranges, t::space_separator_ranges_size, cp);
}
bool is_python_space(char32_t cp) {
    return in_ranges(t::python_space_ranges, t::python_space_ranges_size, cp);
}

namespace {
// CPython's handle_capital_sigma: Σ is final when a cased letter precedes it (skipping case-ignorable
// characters) and none follows it.
bool is_final_sigma(std::u32string_view text, std::size_t at) {
    auto ignorable = [](char32_t c) { return in_ranges(t::case_ignorable_ranges, t::case_ignorable_ranges_size, c); };
    auto cased = [](char32_t c) { return in_ranges(t::cased_ranges, t::cased_ranges_size, c); };
    std::size_t j = at;
    while (j > 0 && ignorable(text[j - 1])) --j;
    if (j == 0 || !cased(text[j - 1])) return false;
    std::size_t k = at + 1;
    while (k < text.size() && ignorable(text[k])) ++k;
    return k == text.size() || !cased(text[k]);
}
}  // namespace

std::u32string to_lower(std::u32string_view text) {
    std::u32string out;
    out.reserve(text.size());
    const auto* end = t::lower_mappings + t::lower_mappings_size;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char32_t cp = text[i];
        if (cp == 0x03A3) {
            out.push_back(is_final_sigma(text, i) ? 0x03C2 : 0x03C3);
            continue;
        }
        if (cp < 0x80) {
            out.push_back((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
            continue;
        }
        const auto* it = std::lower_bound(t::lower_mappings, end, cp,
                                          [](const t::LowerMapping& m, char32_t v) { return m.from < v; });
        if (it == end || it->from != cp) {
            out.push_back(cp);
            continue;
        }
        for (char32_t c : it->to) {
            if (c == 0) break;
            out.push_back(c);
        }
    }
    return out;
}

std::u32string nfc(std::u32string_view text) {
    // 1. Full canonical decomposition.
    std::u32string d;
    d.reserve(text.size());
    for (char32_t cp : text) decompose_into(d, cp);
    // 2. Canonical ordering: stable sort of each run of non-starters by combining class.
    for (std::size_t i = 0; i < d.size();) {
        if (combining_class(d[i]) == 0) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < d.size() && combining_class(d[j]) != 0) ++j;
        std::stable_sort(d.begin() + static_cast<std::ptrdiff_t>(i), d.begin() + static_cast<std::ptrdiff_t>(j),
                         [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
        i = j;
    }
    // 3. Canonical composition.
    std::u32string out;
    out.reserve(d.size());
    std::size_t starter = std::u32string::npos;
    int last_ccc = -1;
    for (char32_t cp : d) {
        const int ccc = combining_class(cp);
        if (starter != std::u32string::npos) {
            const bool blocked = last_ccc != -1 && (last_ccc == 0 || last_ccc >= ccc);
            if (!blocked) {
                if (char32_t composite = compose_pair(out[starter], cp)) {
                    out[starter] = composite;
                    continue;
                }
            }
        }
        if (ccc == 0) {
            starter = out.size();
            last_ccc = -1;
        } else {
            last_ccc = ccc;
        }
        out.push_back(cp);
    }
    return out;
}

}  // namespace ips::unicode
