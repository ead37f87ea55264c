#pragma once
// Unicode property tables generated from Python's unicodedata (tools/gen_unicode_tables.py), so the
// tokenizer classifies, lower-cases and normalises text exactly as the Python reference does.
#include <cstddef>
#include <cstdint>

namespace ips::unicode_tables {

struct CodepointRange {
    char32_t first;
    char32_t last;
};
struct LowerMapping {
    char32_t from;
    char32_t to[3];  // zero-terminated when shorter than 3
};
struct CombiningClass {
    char32_t cp;
    std::uint8_t ccc;
};
struct Decomposition {
    char32_t cp;
    char32_t to[4];  // full canonical decomposition, zero-terminated when shorter than 4
};
struct Composition {
    char32_t first;
    char32_t second;
    char32_t composite;
};

extern const char* const unicode_version;
extern const CodepointRange letter_ranges[];
extern const std::size_t letter_ranges_size;
extern const CodepointRange number_ranges[];
extern const std::size_t number_ranges_size;
extern const CodepointRange other_ranges[];  // general category C* (Cc, Cf, Cn, Co; no surrogates)
extern const std::size_t other_ranges_size;
extern const CodepointRange space_separator_ranges[];
extern const std::size_t space_separator_ranges_size;
extern const CodepointRange python_space_ranges[];  // str.isspace()
extern const std::size_t python_space_ranges_size;
extern const CodepointRange cased_ranges[];  // Cased and not Case_Ignorable (for the final sigma rule)
extern const std::size_t cased_ranges_size;
extern const CodepointRange case_ignorable_ranges[];
extern const std::size_t case_ignorable_ranges_size;
extern const LowerMapping lower_mappings[];
extern const std::size_t lower_mappings_size;
extern const CombiningClass combining_classes[];
extern const std::size_t combining_classes_size;
extern const Decomposition decompositions[];
extern const std::size_t decompositions_size;
extern const Composition compositions[];  // sorted by (first, second)
extern const std::size_t compositions_size;

}  // namespace ips::unicode_tables
