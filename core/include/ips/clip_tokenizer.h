#pragma once
// Mirrors transformers CLIPTokenizer (the slow tokenizer, without ftfy installed), as the SD pipelines
// call it: tokenizer(text, padding="max_length", max_length=77, truncation=True).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ips {

// A string transformers' add_tokens() would add: matched verbatim (case-sensitive) in the raw text before
// BPE, the longest match winning at the leftmost position. It stands for one id, or for every id of a
// multi-vector textual-inversion embedding (diffusers' maybe_convert_prompt expansion).
struct AddedToken {
    std::string content;
    std::vector<std::int64_t> ids;
};

struct TokenizedText {
    std::vector<std::int64_t> input_ids;       // [max_length]: BOS, tokens, EOS, padding
    std::vector<std::int64_t> attention_mask;  // [max_length]: 1 for BOS..EOS, 0 for padding
};

class ClipTokenizer {
public:
    // Reads vocab.json, merges.txt and, when present, special_tokens_map.json / tokenizer_config.json
    // from a diffusers tokenizer/ folder. Throws ModelLoadError naming the file on any problem.
    static ClipTokenizer from_folder(const std::filesystem::path& folder);

    ClipTokenizer(ClipTokenizer&&) noexcept;
    ClipTokenizer& operator=(ClipTokenizer&&) noexcept;
    ~ClipTokenizer();

    // BPE token ids of the text without BOS/EOS, padding or truncation.
    std::vector<std::int64_t> encode(std::string_view utf8_text) const;
    // BOS + ids + EOS, truncated to max_length and padded with the pad token.
    TokenizedText tokenize(std::string_view utf8_text) const;
    // The BPE token strings (byte-level alphabet), for debugging and tests.
    std::vector<std::string> bpe_tokens(std::string_view utf8_text) const;

    // Replaces the added tokens (empty: plain CLIP; encode() is then exactly the tokenizer of vocab.json).
    void set_added_tokens(std::vector<AddedToken> tokens);
    const std::vector<AddedToken>& added_tokens() const;
    // Whether `token` is an entry of vocab.json (byte-level spelling, e.g. "cat" or "cat</w>").
    bool in_vocabulary(const std::string& token) const;

    std::int64_t bos_token_id() const;
    std::int64_t eos_token_id() const;
    std::int64_t pad_token_id() const;
    int max_length() const;
    std::size_t vocab_size() const;  // vocab.json entries (added tokens not counted)

private:
    struct Impl;
    explicit ClipTokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace ips
