#pragma once
// The few Unicode operations the CLIP tokenizer needs, with Python's semantics: UTF-8 decoding as
// Python's 'replace' error handler would do, str.lower(), str.isspace(), category tests and NFC.
#include <string>
#include <string_view>

namespace ips::unicode {

// Decodes UTF-8; each invalid byte becomes U+FFFD (what bytes.decode("utf-8", "replace") yields for
// isolated bad bytes).
std::u32string decode_utf8(std::string_view text);
std::string encode_utf8(std::u32string_view text);
void append_utf8(std::string& out, char32_t cp);

bool is_letter(char32_t cp);           // category L*
bool is_number(char32_t cp);           // category N*
bool is_other(char32_t cp);            // category C* (control, format, unassigned, private use)
bool is_space_separator(char32_t cp);  // category Zs
bool is_python_space(char32_t cp);     // str.isspace()

std::u32string to_lower(std::u32string_view text);  // str.lower() (full case mapping)
std::u32string nfc(std::u32string_view text);       // unicodedata.normalize("NFC", text)

}  // namespace ips::unicode
