#include "ips/model_discovery.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <set>

#include "io/component_files.h"
#include "io/json_file.h"
#include "ips/errors.h"

namespace ips {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxDepth = 8;            // model trees are shallow; deeper is a wrong folder or a loop
constexpr std::size_t kMaxEntries = 20000;  // stop walking a huge unrelated tree (a home folder)

std::string lower_extension(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext;
}

bool is_pickle_file(const fs::path& p) {
    const std::string ext = lower_extension(p);
    return ext == ".bin" || ext == ".pt" || ext == ".pth" || ext == ".ckpt";
}

bool is_weights_file(const fs::path& p) { return lower_extension(p) == ".safetensors" || is_pickle_file(p); }

std::uint64_t size_of(const fs::path& p) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
        const auto n = fs::file_size(p, ec);
        return ec ? 0 : n;
    }
    std::uint64_t total = 0;
    for (fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec)) {
        std::error_code e;
        if (it->is_regular_file(e)) total += it->file_size(e);
    }
    return total;
}

// Recognising a pickle checkpoint means loading it; past this size a scan lists it without reading.
constexpr std::uint64_t kLargestPickleInspected = 512ull << 20;

DiscoveredModel classify(const fs::path& path, const std::string& source) {
    DiscoveredModel m;
    m.path = path;
    m.source = source;
    m.size_bytes = size_of(path);
    if (is_pickle_file(path) && m.size_bytes > kLargestPickleInspected) {
        m.problem = "a pickle checkpoint over 512 MB, not inspected by the scan (recognising it means loading it); "
                    "choose it in Settings > Models to check it";
        return m;
    }
    try {
        const ModelInfo info = inspect_model(path);
        m.kind = info.kind;
        m.variant = info.variant;
        m.base_architecture = info.base_architecture;
        if (info.kind == ModelKind::Unknown)
            m.problem = "not a model IP Studio knows (its tensor names match no supported kind)";
        else if (!info.notes.empty())
            m.note = info.notes.front();
    } catch (const std::exception& e) {
        m.problem = e.what();
    }
    return m;
}

bool has_file(const fs::path& folder, const char* name) {
    std::error_code ec;
    return fs::is_regular_file(folder / name, ec);
}

// A diffusers folder that is one model: a pipeline, or one component (config.json + its weights).
bool is_model_folder(const fs::path& folder) {
    if (has_file(folder, "model_index.json")) return true;
    if (!has_file(folder, "config.json")) return false;
    try {
        return !io::component_weight_files(folder).empty();
    } catch (const std::exception&) {
        return false;
    }
}

class Walker {
public:
    Walker(std::string source, std::vector<DiscoveredModel>& out) : source_(std::move(source)), out_(out) {}

    void walk(const fs::path& folder, int depth = 0) {
        if (depth > kMaxDepth || entries_ > kMaxEntries) return;
        std::error_code ec;
        const fs::path canonical = fs::weakly_canonical(folder, ec);
        if (!visited_.insert(ec ? folder : canonical).second) return;  // a symlink loop or a tree seen twice
        if (is_model_folder(folder)) {
            add(classify(folder, source_));
            return;
        }
        std::vector<fs::path> files, folders;
        for (fs::directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
             it.increment(ec)) {
            if (++entries_ > kMaxEntries) break;
            const fs::path p = it->path();
            const std::string name = p.filename().string();
            if (name.empty() || name[0] == '.' || name == "__pycache__" || name == "node_modules") continue;
            std::error_code e;
            if (it->is_directory(e)) folders.push_back(p);
            else if (it->is_regular_file(e) && is_weights_file(p)) files.push_back(p);
        }
        std::sort(files.begin(), files.end());
        std::sort(folders.begin(), folders.end());
        for (const auto& f : files) add(classify(f, source_));
        for (const auto& d : folders) walk(d, depth + 1);
    }

    std::function<void(DiscoveredModel&)> annotate;

private:
    void add(DiscoveredModel m) {
        if (annotate) annotate(m);
        out_.push_back(std::move(m));
    }

    std::string source_;
    std::vector<DiscoveredModel>& out_;
    std::set<fs::path> visited_;
    std::size_t entries_ = 0;
};

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

}  // namespace

fs::path huggingface_hub_cache() {
    if (const auto v = env("HF_HUB_CACHE"); !v.empty()) return fs::u8path(v);
    if (const auto v = env("HF_HOME"); !v.empty()) return fs::u8path(v) / "hub";
    if (const auto v = env("XDG_CACHE_HOME"); !v.empty()) return fs::u8path(v) / "huggingface" / "hub";
    return fs::u8path(env("HOME")) / ".cache" / "huggingface" / "hub";
}

std::vector<DiscoveredModel> discover_hub_cache(const fs::path& hub_cache) {
    std::vector<DiscoveredModel> out;
    std::error_code ec;
    if (!fs::is_directory(hub_cache, ec)) return out;
    std::vector<fs::path> repos;
    for (fs::directory_iterator it(hub_cache, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec))
        if (it->path().filename().string().rfind("models--", 0) == 0) repos.push_back(it->path());
    std::sort(repos.begin(), repos.end());
    for (const auto& repo_folder : repos) {
        // models--ORG--NAME: "--" separates the parts (names themselves never contain "--").
        std::string repo = repo_folder.filename().string().substr(8);
        if (const auto sep = repo.find("--"); sep != std::string::npos) repo.replace(sep, 2, "/");
        std::vector<fs::path> snapshots;
        for (fs::directory_iterator it(repo_folder / "snapshots", ec), end; !ec && it != end; it.increment(ec)) {
            std::error_code e;
            if (it->is_directory(e)) snapshots.push_back(it->path());
        }
        std::sort(snapshots.begin(), snapshots.end());
        for (const auto& snapshot : snapshots) {
            Walker walker("Hugging Face cache", out);
            const std::string revision = snapshot.filename().string();
            walker.annotate = [&](DiscoveredModel& m) {
                m.repo = repo;
                m.revision = revision;
            };
            walker.walk(snapshot);
        }
    }
    return out;
}

std::string installation_kind(const fs::path& root) {
    std::error_code ec;
    const auto exists = [&](const fs::path& p) { return fs::exists(root / p, ec); };
    if (exists("comfy") || exists("models/checkpoints") || exists("models/clip_vision") || exists("models/ipadapter"))
        return "ComfyUI";
    if (exists("webui.py") || exists("models/Stable-diffusion") || exists("models/ControlNet")) return "AUTOMATIC1111";
    if (exists("invokeai.yaml") || exists("configs/invokeai.yaml") || (exists("databases") && exists("models")))
        return "InvokeAI";
    return "folder";
}

std::vector<DiscoveredModel> discover_model_folder(const fs::path& root) {
    std::error_code ec;
    if (!fs::is_directory(root, ec))
        throw InputError(io::display_path(root) + ": not a folder (expected a ComfyUI, AUTOMATIC1111 or InvokeAI folder, or a folder of models)");
    std::vector<DiscoveredModel> out;
    const std::string kind = installation_kind(root);
    Walker walker(kind, out);
    if (kind == "folder") {
        walker.walk(root);
        return out;
    }
    // An installation: its model folders only (not its code, outputs or virtual environment). A1111 keeps
    // textual-inversion embeddings in embeddings/ (ComfyUI's models/embeddings is under models/).
    for (const char* sub : {"models", "extensions/sd-webui-controlnet/models", "embeddings"})
        if (fs::is_directory(root / sub, ec)) walker.walk(root / sub);
    return out;
}

}  // namespace ips
