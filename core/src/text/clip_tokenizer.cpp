// Mirrors transformers CLIPTokenizer (tokenization_clip.py) on the path taken when ftfy is not
// installed: BasicTokenizer(strip_accents=False, do_split_on_punc=False) clean-up, the CLIP
// pre-tokenisation regex, then byte-level BPE with "</w>" word ends.
#include "ips/clip_tokenizer.h"

#include <array>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "io/json_file.h"
#include "ips/errors.h"
#include "text/unicode.h"

namespace ips {
namespace {

constexpr std::string_view kSpecialTokens[] = {"<|startoftext|>", "<|endoftext|>"};
constexpr std::string_view kContractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
// CLIP keeps only the first 49152 - 256 - 2 merges of merges.txt.
constexpr std::size_t kMaxMerges = 49152 - 256 - 2;

// GPT-2's reversible map from bytes to printable code points, so BPE works on visible characters.
std::array<std::string, 256> make_byte_encoder() {
    std::array<std::string, 256> table;
    std::array<bool, 256> printable{};
    for (int b = '!'; b <= '~'; ++b) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        std::string s;
        unicode::append_utf8(s, printable[b] ? static_cast<char32_t>(b) : next++);
        table[b] = s;
    }
    return table;
}

// transformers' BasicTokenizer._is_chinese_char: the CJK Unified Ideographs blocks.
bool is_cjk(char32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// BasicTokenizer.tokenize followed by " ".join: control characters dropped, whitespace unified,
// CJK ideographs isolated, NFC, split on whitespace, lower-cased.
std::u32string basic_clean(std::string_view utf8) {
    std::u32string cleaned;
    for (char32_t cp : unicode::decode_utf8(utf8)) {
        const bool ascii_space = cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r';
        if (cp == 0 || cp == 0xFFFD || (!ascii_space && unicode::is_other(cp))) continue;
        if (ascii_space || unicode::is_space_separator(cp)) {
            cleaned.push_back(' ');
        } else if (is_cjk(cp)) {
            cleaned.push_back(' ');
            cleaned.push_back(cp);
            cleaned.push_back(' ');
        } else {
            cleaned.push_back(cp);
        }
    }
    const std::u32string normalized = unicode::nfc(cleaned);
    std::u32string out;
    std::size_t i = 0;
    while (i < normalized.size()) {
        while (i < normalized.size() && unicode::is_python_space(normalized[i])) ++i;
        std::size_t j = i;
        while (j < normalized.size() && !unicode::is_python_space(normalized[j])) ++j;
        if (j > i) {
            if (!out.empty()) out.push_back(' ');
            out += unicode::to_lower(normalized.substr(i, j - i));
        }
        i = j;
    }
    return out;
}

bool starts_with_ascii_ci(const std::u32string& text, std::size_t pos, std::string_view literal) {
    if (pos + literal.size() > text.size()) return false;
    for (std::size_t k = 0; k < literal.size(); ++k) {
        char32_t c = text[pos + k];
        if (c >= 'A' && c <= 'Z') c += 32;
        char32_t l = static_cast<unsigned char>(literal[k]);
        if (l >= 'A' && l <= 'Z') l += 32;
        if (c != l) return false;
    }
    return true;
}

// re.findall of CLIP's pattern (IGNORECASE):
// <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
std::vector<std::u32string> pre_tokenize(const std::u32string& text) {
    std::vector<std::u32string> pieces;
    std::size_t i = 0;
    auto is_rest = [](char32_t c) {
        return !unicode::is_python_space(c) && !unicode::is_letter(c) && !unicode::is_number(c);
    };
    while (i < text.size()) {
        std::size_t len = 0;
        for (auto literal : kSpecialTokens)
            if (len == 0 && starts_with_ascii_ci(text, i, literal)) len = literal.size();
        for (auto literal : kContractions)
            if (len == 0 && starts_with_ascii_ci(text, i, literal)) len = literal.size();
        if (len == 0 && unicode::is_letter(text[i])) {
            while (i + len < text.size() && unicode::is_letter(text[i + len])) ++len;
        } else if (len == 0 && unicode::is_number(text[i])) {
            len = 1;
        } else if (len == 0 && is_rest(text[i])) {
            while (i + len < text.size() && is_rest(text[i + len])) ++len;
        }
        if (len == 0) {
            ++i;  // whitespace: not part of any match
            continue;
        }
        pieces.push_back(text.substr(i, len));
        i += len;
    }
    return pieces;
}

std::string token_content(const nlohmann::json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_object() && value.contains("content") && value["content"].is_string())
        return value["content"].get<std::string>();
    return {};
}

}  // namespace

struct ClipTokenizer::Impl {
    std::unordered_map<std::string, std::int64_t> vocab;
    std::unordered_map<std::string, std::size_t> merge_ranks;  // key: first + '\n' + second
    std::array<std::string, 256> byte_encoder = make_byte_encoder();
    std::int64_t bos = 49406, eos = 49407, pad = 49407, unk = 49407;
    int max_length = 77;
    std::vector<AddedToken> added_tokens;  // textual-inversion tokens; none for plain CLIP

    std::int64_t id_of(const std::string& token) const {
        auto it = vocab.find(token);
        return it == vocab.end() ? unk : it->second;
    }

    std::size_t rank(const std::string& a, const std::string& b) const {
        auto it = merge_ranks.find(a + '\n' + b);
        return it == merge_ranks.end() ? std::numeric_limits<std::size_t>::max() : it->second;
    }

    // CLIPTokenizer.bpe: merge the lowest-ranked adjacent pair until no known pair remains.
    std::vector<std::string> bpe(const std::u32string& piece) const {
        std::vector<std::string> word;
        for (unsigned char byte : unicode::encode_utf8(piece)) word.push_back(byte_encoder[byte]);
        word.back() += "</w>";
        while (word.size() > 1) {
            std::size_t best = std::numeric_limits<std::size_t>::max(), best_at = 0;
            for (std::size_t k = 0; k + 1 < word.size(); ++k) {
                const std::size_t r = rank(word[k], word[k + 1]);
                if (r < best) best = r, best_at = k;
            }
            if (best == std::numeric_limits<std::size_t>::max()) break;
            const std::string first = word[best_at], second = word[best_at + 1];
            std::vector<std::string> merged;
            merged.reserve(word.size());
            for (std::size_t k = 0; k < word.size();) {
                if (k + 1 < word.size() && word[k] == first && word[k + 1] == second) {
                    merged.push_back(first + second);
                    k += 2;
                } else {
                    merged.push_back(word[k]);
                    k += 1;
                }
            }
            word = std::move(merged);
        }
        return word;
    }

    // PreTrainedTokenizer.tokenize: the special and added tokens are split out of the raw text first (its
    // Trie: the leftmost match, the longest one there); the text between them goes through BPE.
    // Calls on_text(segment), on_special(token) or on_added(token) in text order.
    template <class OnText, class OnSpecial, class OnAdded>
    void split(std::string_view text, OnText on_text, OnSpecial on_special, OnAdded on_added) const {
        std::size_t start = 0;
        while (start <= text.size()) {
            std::size_t hit = std::string_view::npos, hit_length = 0;
            std::string_view special;
            const AddedToken* added = nullptr;
            auto consider = [&](std::string_view literal, std::string_view as_special, const AddedToken* as_added) {
                const std::size_t at = text.find(literal, start);
                if (at == std::string_view::npos) return;
                if (at < hit || (at == hit && literal.size() > hit_length))
                    hit = at, hit_length = literal.size(), special = as_special, added = as_added;
            };
            for (auto s : kSpecialTokens) consider(s, s, nullptr);
            for (const auto& a : added_tokens) consider(a.content, {}, &a);
            if (hit == std::string_view::npos) {
                on_text(text.substr(start));
                break;
            }
            on_text(text.substr(start, hit - start));
            if (added) on_added(*added);
            else on_special(special);
            start = hit + hit_length;
        }
    }

    std::vector<std::string> tokens(std::string_view text) const {
        std::vector<std::string> out;
        split(
            text,
            [&](std::string_view segment) {
                for (const auto& piece : pre_tokenize(basic_clean(segment)))
                    for (auto& t : bpe(piece)) out.push_back(std::move(t));
            },
            [&](std::string_view special) { out.emplace_back(special); },
            [&](const AddedToken& added) { out.push_back(added.content); });
        return out;
    }

    std::vector<std::int64_t> ids(std::string_view text) const {
        std::vector<std::int64_t> out;
        split(
            text,
            [&](std::string_view segment) {
                for (const auto& piece : pre_tokenize(basic_clean(segment)))
                    for (const auto& t : bpe(piece)) out.push_back(id_of(t));
            },
            [&](std::string_view special) { out.push_back(id_of(std::string(special))); },
            [&](const AddedToken& added) { out.insert(out.end(), added.ids.begin(), added.ids.end()); });
        return out;
    }
};

ClipTokenizer::ClipTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;
ClipTokenizer::~ClipTokenizer() = default;

ClipTokenizer ClipTokenizer::from_folder(const std::filesystem::path& folder) {
    auto impl = std::make_unique<Impl>();
    const auto vocab_path = folder / "vocab.json";
    const auto merges_path = folder / "merges.txt";
    const nlohmann::json vocab = io::read_json_file(vocab_path);
    if (!vocab.is_object() || vocab.empty())
        throw ModelLoadError(io::display_path(vocab_path) + ": expected a JSON object of token -> id");
    for (const auto& [token, id] : vocab.items()) {
        if (!id.is_number_integer())
            throw ModelLoadError(io::display_path(vocab_path) + ": id of token '" + token +
                                 "' is not an integer");
        impl->vocab.emplace(token, id.get<std::int64_t>());
    }

    std::istringstream merges(io::read_text_file(merges_path));
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(merges, line) && impl->merge_ranks.size() < kMaxMerges) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line_no == 1 && line.rfind("#version", 0) == 0) continue;
        if (line.empty()) continue;
        const auto space = line.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 >= line.size())
            throw ModelLoadError(io::display_path(merges_path) + ": line " + std::to_string(line_no) +
                                 " is not a 'first second' merge pair");
        line[space] = '\n';
        impl->merge_ranks.emplace(line, impl->merge_ranks.size());
    }
    if (impl->merge_ranks.empty())
        throw ModelLoadError(io::display_path(merges_path) + ": no merges found");

    // Special tokens: tokenizer_config.json, overridden by special_tokens_map.json, as transformers does.
    std::string bos = "<|startoftext|>", eos = "<|endoftext|>", pad = "<|endoftext|>", unk = "<|endoftext|>";
    for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
        const auto path = folder / name;
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) continue;
        const nlohmann::json config = io::read_json_file(path);
        if (!config.is_object()) throw ModelLoadError(io::display_path(path) + ": expected a JSON object");
        auto take = [&](const char* key, std::string& into) {
            if (config.contains(key) && !token_content(config[key]).empty()) into = token_content(config[key]);
        };
        take("bos_token", bos);
        take("eos_token", eos);
        take("pad_token", pad);
        take("unk_token", unk);
        if (config.contains("model_max_length") && config["model_max_length"].is_number_integer()) {
            const auto length = config["model_max_length"].get<std::int64_t>();
            // Tokenizers without a limit store a huge sentinel; CLIP text encoders take 77.
            if (length >= 2 && length <= 4096) impl->max_length = static_cast<int>(length);
        }
    }
    auto require = [&](const std::string& token, const char* role) {
        auto it = impl->vocab.find(token);
        if (it == impl->vocab.end())
            throw ModelLoadError(io::display_path(vocab_path) + ": the " + role + " token '" + token +
                                 "' is not in the vocabulary");
        return it->second;
    };
    impl->bos = require(bos, "bos");
    impl->eos = require(eos, "eos");
    impl->pad = require(pad, "pad");
    impl->unk = require(unk, "unk");
    return ClipTokenizer(std::move(impl));
}

std::vector<std::string> ClipTokenizer::bpe_tokens(std::string_view utf8_text) const {
    return impl_->tokens(utf8_text);
}

std::vector<std::int64_t> ClipTokenizer::encode(std::string_view utf8_text) const { return impl_->ids(utf8_text); }

void ClipTokenizer::set_added_tokens(std::vector<AddedToken> tokens) {
    for (const auto& t : tokens)
        if (t.content.empty() || t.ids.empty())
            throw InputError("an added token needs a non-empty text and at least one id");
    impl_->added_tokens = std::move(tokens);
}

const std::vector<AddedToken>& ClipTokenizer::added_tokens() const { return impl_->added_tokens; }

bool ClipTokenizer::in_vocabulary(const std::string& token) const { return impl_->vocab.count(token) != 0; }

TokenizedText ClipTokenizer::tokenize(std::string_view utf8_text) const {
    std::vector<std::int64_t> ids = encode(utf8_text);
    const std::size_t room = static_cast<std::size_t>(impl_->max_length) - 2;
    if (ids.size() > room) ids.resize(room);
    TokenizedText out;
    out.input_ids.reserve(impl_->max_length);
    out.input_ids.push_back(impl_->bos);
    out.input_ids.insert(out.input_ids.end(), ids.begin(), ids.end());
    out.input_ids.push_back(impl_->eos);
    out.attention_mask.assign(out.input_ids.size(), 1);
    out.input_ids.resize(impl_->max_length, impl_->pad);
    out.attention_mask.resize(impl_->max_length, 0);
    return out;
}

std::int64_t ClipTokenizer::bos_token_id() const { return impl_->bos; }
std::int64_t ClipTokenizer::eos_token_id() const { return impl_->eos; }
std::int64_t ClipTokenizer::pad_token_id() const { return impl_->pad; }
int ClipTokenizer::max_length() const { return impl_->max_length; }
std::size_t ClipTokenizer::vocab_size() const { return impl_->vocab.size(); }

}  // namespace ips
