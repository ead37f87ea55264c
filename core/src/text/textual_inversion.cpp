// Mirrors diffusers TextualInversionLoaderMixin (loaders/textual_inversion.py) and the file formats of
// A1111's modules/textual_inversion/textual_inversion.py (load_from_file).
#include "text/textual_inversion.h"

#include <set>
#include <sstream>

#include <ATen/ATen.h>

#include "io/detect.h"
#include "io/json_file.h"
#include "io/weights.h"
#include "ips/errors.h"
#include "ips/model_info.h"

namespace ips::text {
namespace {

namespace fs = std::filesystem;

std::string file_stamp(const fs::path& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    const auto time = fs::last_write_time(path, ec).time_since_epoch().count();
    return std::to_string(size) + ":" + std::to_string(time);
}

std::string shape_text(const at::Tensor& t) {
    std::string s = "[";
    for (std::int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
    return s + "]";
}

// Which model family makes text-encoder vectors of this width, for messages.
std::string family_of_width(std::int64_t width) {
    if (width == 768) return "SD1.x";
    if (width == 1024) return "SD2.x";
    if (width == 1280) return "SDXL's second text encoder";
    return "an unknown model";
}

std::string not_an_embedding(const std::string& name, const std::map<std::string, at::Tensor>& tensors) {
    std::vector<io::TensorInfo> infos;
    for (const auto& [key, t] : tensors) infos.push_back({key, std::string(c10::toString(t.scalar_type())), t.sizes().vec()});
    const auto d = io::detect_from_tensors(infos);
    if (d.kind != ModelKind::Unknown && d.kind != ModelKind::TextualInversion)
        return name + ": this is a " + std::string(model_kind_name(d.kind)) + ", not a textual-inversion embedding";
    return name + ": not a textual-inversion embedding: expected string_to_param.* (A1111 .pt), emb_params (A1111 "
                  ".safetensors) or one tensor [n, width] named by its token (diffusers learned_embeds); found " +
           std::to_string(tensors.size()) + " tensors";
}

std::string the_token(const EmbeddingRequest& r, const EmbeddingFile& f) { return r.token.empty() ? default_token(f) : r.token; }

}  // namespace

const char* embedding_format_name(EmbeddingFormat format) {
    switch (format) {
        case EmbeddingFormat::A1111Pickle: return "a1111-pt";
        case EmbeddingFormat::A1111Safetensors: return "a1111-safetensors";
        case EmbeddingFormat::Diffusers: return "diffusers";
    }
    return "unknown";
}

EmbeddingFile read_embedding_file(const fs::path& path) {
    const std::string name = io::display_path(path);
    const io::Weights w = io::load_weights(path);  // ModelLoadError naming the file: unreadable, truncated, corrupt
    EmbeddingFile f;
    f.path = path;
    std::vector<std::string> a1111_params;
    for (const auto& [key, t] : w.tensors)
        if (key.rfind("string_to_param.", 0) == 0) a1111_params.push_back(key);
    at::Tensor vectors;
    if (!a1111_params.empty()) {
        // A1111 asserts a single term ('*'); so do we.
        if (a1111_params.size() != 1)
            throw ModelLoadError(name + ": string_to_param holds " + std::to_string(a1111_params.size()) +
                                 " embeddings; A1111 embedding files hold one");
        f.format = EmbeddingFormat::A1111Pickle;
        vectors = w.tensors.at(a1111_params.front());
    } else if (w.tensors.count("emb_params")) {
        f.format = EmbeddingFormat::A1111Safetensors;
        vectors = w.tensors.at("emb_params");
    } else if (w.tensors.count("clip_l") && w.tensors.count("clip_g")) {
        throw ModelLoadError(name + ": an SDXL embedding (clip_l + clip_g vectors); only SD1.x models are supported");
    } else if (w.tensors.size() == 1 && (w.tensors.begin()->second.dim() == 1 || w.tensors.begin()->second.dim() == 2)) {
        f.format = EmbeddingFormat::Diffusers;
        f.file_token = w.tensors.begin()->first;
        vectors = w.tensors.begin()->second;
    } else {
        throw ModelLoadError(not_an_embedding(name, w.tensors));
    }
    if (!at::isFloatingType(vectors.scalar_type()))
        throw ModelLoadError(name + ": embedding vectors are " + std::string(c10::toString(vectors.scalar_type())) +
                             ", expected floating-point values");
    if (vectors.dim() == 1) vectors = vectors.unsqueeze(0);
    if (vectors.dim() != 2 || vectors.size(0) < 1 || vectors.size(1) < 1)
        throw ModelLoadError(name + ": embedding vectors are " + shape_text(vectors) + ", expected [vectors, width]");
    f.vectors = vectors.to(at::kFloat).contiguous().clone();  // own copy: the file's mapping may go away
    if (!at::isfinite(f.vectors).all().item<bool>())
        throw ModelLoadError(name + ": the embedding holds NaN or infinite values (a broken training run?)");
    return f;
}

std::string default_token(const EmbeddingFile& file) {
    const std::string stem = io::display_path(file.path.stem());
    if (file.format == EmbeddingFormat::Diffusers && stem == "learned_embeds") return file.file_token;
    return stem;
}

void TextualInversionState::apply(ClipTokenizer& tokenizer, nn::CLIPTextModelImpl& text_encoder,
                                  const std::vector<EmbeddingRequest>& embeddings) {
    // 1. Read and check everything; nothing changes before this loop ends.
    const at::Tensor table = original_table_.defined() ? original_table_ : text_encoder.token_embedding_weight();
    const std::int64_t width = table.size(1);
    std::map<std::string, Cached> files;
    std::vector<std::pair<std::shared_ptr<const EmbeddingFile>, std::string>> active;  // file, token
    std::map<std::string, std::string> token_owner;                                     // token -> file, for messages
    std::string signature;
    for (const auto& r : embeddings) {
        std::error_code ec;
        if (!fs::is_regular_file(r.path, ec))
            throw InputError(io::display_path(r.path) + ": textual-inversion embedding file not found");
        const std::string key = io::display_path(fs::weakly_canonical(r.path, ec));
        const std::string stamp = file_stamp(r.path);
        if (!files.count(key)) {
            auto it = files_.find(key);
            if (it != files_.end() && it->second.stamp == stamp) files[key] = it->second;
            else files[key] = Cached{stamp, std::make_shared<const EmbeddingFile>(read_embedding_file(r.path))};
        }
        const auto& file = files.at(key).file;
        const std::string name = io::display_path(r.path);
        if (file->vectors.size(1) != width)
            throw ModelLoadError(name + ": has " + std::to_string(file->vectors.size(1)) + "-wide vectors (made for " +
                                 family_of_width(file->vectors.size(1)) + "); this model's text encoder is " +
                                 std::to_string(width) + " wide (" + family_of_width(width) + ")");
        const std::string token = the_token(r, *file);
        if (token.empty()) throw InputError(name + ": the embedding's token is empty");
        const std::int64_t n = file->vectors.size(0);
        for (std::int64_t i = 0; i < n; ++i) {
            const std::string t = i == 0 ? token : token + "_" + std::to_string(i);
            // diffusers refuses a token the vocabulary has: the embedding would never be used for it.
            if (tokenizer.in_vocabulary(t))
                throw InputError(name + ": the token '" + t + "' is already in the tokenizer's vocabulary (diffusers refuses "
                                 "it too); choose another token, e.g. '<" + token + ">'");
            if (auto owner = token_owner.find(t); owner != token_owner.end())
                throw InputError(name + ": the token '" + t + "' is already used by " + owner->second +
                                 "; give one of them another token");
            token_owner.emplace(t, name);
        }
        active.emplace_back(file, token);
        signature += key + "@" + stamp + "=" + token + ";";
    }
    if (signature == signature_ && (active.empty() || original_table_.defined())) {
        files_ = std::move(files);
        return;
    }

    // 2. The new table and tokens (built aside, so an allocation failure leaves the model as it was).
    std::vector<AddedToken> added;
    std::vector<at::Tensor> rows{table};
    std::int64_t next_id = std::max<std::int64_t>(table.size(0), static_cast<std::int64_t>(tokenizer.vocab_size()));
    const std::int64_t first_id = next_id;
    for (const auto& [file, token] : active) {
        const std::int64_t n = file->vectors.size(0);
        std::vector<std::int64_t> ids;
        for (std::int64_t i = 0; i < n; ++i) ids.push_back(next_id + i);
        next_id += n;
        // diffusers' tokens: name -> all ids (maybe_convert_prompt), name_i -> the i-th one.
        added.push_back({token, ids});
        for (std::int64_t i = 1; i < n; ++i) added.push_back({token + "_" + std::to_string(i), {ids[i]}});
        // A1111 / ComfyUI spellings of the same embedding.
        std::set<std::string> aliases{"embedding:" + token, "embedding:" + io::display_path(file->path.stem()),
                                      "embedding:" + io::display_path(file->path.filename())};
        for (const auto& alias : aliases)
            if (!token_owner.count(alias)) token_owner.emplace(alias, ""), added.push_back({alias, ids});
        rows.push_back(file->vectors.to(table.scalar_type()).to(table.device()));
    }
    // Rows between the table's end and the first id (a tokenizer larger than the table) stay zero.
    if (first_id > table.size(0) && !active.empty())
        rows.insert(rows.begin() + 1, at::zeros({first_id - table.size(0), width}, table.options()));
    at::Tensor new_table = active.empty() ? table : at::cat(rows, 0);

    // 3. Swap in (cannot fail past this point).
    text_encoder.set_token_embedding_weight(new_table);
    tokenizer.set_added_tokens(std::move(added));
    original_table_ = active.empty() ? at::Tensor() : table;
    added_rows_ = new_table.size(0) - table.size(0);
    files_ = std::move(files);
    signature_ = std::move(signature);
}

}  // namespace ips::text
