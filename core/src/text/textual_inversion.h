#pragma once
// Textual-inversion embeddings, as diffusers' TextualInversionLoaderMixin.load_textual_inversion loads them:
// each embedding's n vectors become n new rows of the text encoder's token table (ids after the vocabulary:
// 49408, 49409, ...) and n added tokens of the tokenizer ("name", "name_1", ..., "name_{n-1}"), and the
// name in a prompt stands for all n ids (diffusers' maybe_convert_prompt). A1111's spelling (the file stem
// as a word) and ComfyUI's ("embedding:name", "embedding:file.pt") give the same ids.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ips/clip_tokenizer.h"
#include "nn/clip_models.h"

namespace ips::text {

enum class EmbeddingFormat {
    A1111Pickle,       // torch.save {"string_to_param": {"*": [n, D]}, "string_to_token", "name", "step"}
    A1111Safetensors,  // {"emb_params": [n, D]}
    Diffusers,         // learned_embeds.bin / .safetensors: {token: [D] or [n, D]}
};

const char* embedding_format_name(EmbeddingFormat format);

struct EmbeddingFile {
    std::filesystem::path path;
    EmbeddingFormat format = EmbeddingFormat::Diffusers;
    std::string file_token;  // Diffusers: the token the file is saved under; empty otherwise
    at::Tensor vectors;      // [n, D], float32
};

// Reads an embedding in any of the formats above. Throws ModelLoadError naming the file when it is
// unreadable or truncated, not an embedding ("this is a lora, not a textual-inversion embedding"), an SDXL
// embedding (clip_l + clip_g), or holds NaN / infinite values.
EmbeddingFile read_embedding_file(const std::filesystem::path& path);

// The token used when the request names none: the file stem (as A1111 and ComfyUI name embeddings), except
// for diffusers' fixed file names learned_embeds.*, whose token is the one saved in the file.
std::string default_token(const EmbeddingFile& file);

struct EmbeddingRequest {
    std::filesystem::path path;
    std::string token;  // empty: default_token
};

// The textual inversions active on one loaded tokenizer + text encoder pair. apply() brings both to
// "original + exactly this list": the table is rebuilt from the kept original (never grown request after
// request), and an empty list puts the original tensor itself back, so removing every embedding restores the
// table bit for bit. Every file is read and checked before anything changes: after an error both are as
// they were.
class TextualInversionState {
public:
    void apply(ClipTokenizer& tokenizer, nn::CLIPTextModelImpl& text_encoder, const std::vector<EmbeddingRequest>& embeddings);
    // "path@stamp=token;..." of the active list: part of the keys of caches of text embeddings.
    const std::string& signature() const { return signature_; }
    // Rows currently appended to the token table.
    std::int64_t added_rows() const { return added_rows_; }

private:
    struct Cached {
        std::string stamp;  // size + modification time
        std::shared_ptr<const EmbeddingFile> file;
    };
    std::map<std::string, Cached> files_;
    at::Tensor original_table_;  // defined while embeddings are applied
    std::int64_t added_rows_ = 0;
    std::string signature_;
};

}  // namespace ips::text
