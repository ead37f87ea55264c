#include "io/torch_checkpoint.h"

#include <unordered_map>
#include <unordered_set>

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include "io/json_file.h"
#include "io/pickle_reader.h"
#include "ips/errors.h"

namespace ips::io {
namespace {

using Kind = PickleValue::Kind;

at::ScalarType storage_scalar_type(const std::string& storage_type, const std::string& file) {
    static const std::unordered_map<std::string, at::ScalarType> kTypes = {
        {"FloatStorage", at::kFloat}, {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
        {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
        {"ShortStorage", at::kShort}, {"CharStorage", at::kChar}, {"ByteStorage", at::kByte},
        {"BoolStorage", at::kBool},
    };
    auto it = kTypes.find(storage_type);
    if (it == kTypes.end())
        throw ModelLoadError(file + ": unsupported tensor storage type '" + storage_type + "'");
    return it->second;
}

// Materialises pickled tensor references from the archive's data/<key> records, one read per storage.
class TensorBuilder {
public:
    TensorBuilder(caffe2::serialize::PyTorchStreamReader& reader, std::string file)
        : reader_(reader), file_(std::move(file)) {}

    at::Tensor build(const PickledTensor& t, const std::string& name) {
        const at::ScalarType type = storage_scalar_type(t.storage.storage_type, file_);
        const at::Storage& storage = storage_for(t.storage, type);
        // Every element the view can reach must lie inside the storage.
        std::int64_t last = t.storage_offset, numel = 1;
        if (t.storage_offset < 0) fail(name, "negative storage offset");
        for (std::size_t d = 0; d < t.size.size(); ++d) {
            if (t.size[d] < 0 || t.stride[d] < 0) fail(name, "negative size or stride");
            numel *= t.size[d];
            if (t.size[d] > 0) last += (t.size[d] - 1) * t.stride[d];
        }
        if (numel > 0 && last >= t.storage.numel) fail(name, "view reaches past its storage");
        return at::empty({0}, at::TensorOptions().dtype(type)).set_(storage, t.storage_offset, t.size, t.stride);
    }

private:
    [[noreturn]] void fail(const std::string& name, const std::string& what) const {
        throw ModelLoadError(file_ + ": tensor '" + name + "': " + what + " (corrupt checkpoint)");
    }

    const at::Storage& storage_for(const PickledStorage& s, at::ScalarType type) {
        auto it = storages_.find(s.key);
        if (it != storages_.end()) return it->second;
        const std::string record = "data/" + s.key;
        if (!reader_.hasRecord(record)) throw ModelLoadError(file_ + ": missing tensor data record '" + record + "'");
        auto [data, bytes] = reader_.getRecord(record);
        const auto expected = static_cast<std::size_t>(s.numel) * c10::elementSize(type);
        if (bytes != expected)
            throw ModelLoadError(file_ + ": tensor data record '" + record + "' holds " + std::to_string(bytes) +
                                 " bytes, expected " + std::to_string(expected));
        at::Storage storage(at::Storage::use_byte_size_t(), bytes, std::move(data), nullptr, false);
        return storages_.emplace(s.key, std::move(storage)).first->second;
    }

    caffe2::serialize::PyTorchStreamReader& reader_;
    std::string file_;
    std::unordered_map<std::string, at::Storage> storages_;
};

std::string key_text(const PickleValue& key) {
    if (key.kind == Kind::String) return key.text;
    if (key.kind == Kind::Int) return std::to_string(key.integer);
    return {};
}

constexpr int kMaxNesting = 64;

void flatten(const PickleValue& value, const std::string& prefix, int depth, TensorBuilder& builder,
             std::map<std::string, at::Tensor>& out) {
    if (value.kind == Kind::Tensor) {
        if (!prefix.empty()) out.emplace(prefix, builder.build(value.tensor, prefix));
        return;
    }
    if (value.kind != Kind::Dict || depth > kMaxNesting) return;  // numbers, strings, optimizer lists: not weights
    for (const auto& [key, item] : value.entries) {
        const std::string name = key_text(*key);
        if (name.empty()) continue;
        flatten(*item, prefix.empty() ? name : prefix + "." + name, depth + 1, builder, out);
    }
}

const PickleValue* unwrap_state_dict(const PickleValue* root) {
    if (root->kind != Kind::Dict) return root;
    for (const auto& [key, value] : root->entries)
        if (key->kind == Kind::String && key->text == "state_dict" && value->kind == Kind::Dict) return value;
    return root;
}

}  // namespace

std::map<std::string, at::Tensor> load_torch_checkpoint(const std::filesystem::path& path) {
    const std::string name = display_path(path);
    std::map<std::string, at::Tensor> tensors;
    try {
        caffe2::serialize::PyTorchStreamReader reader(path.string());
        if (!reader.hasRecord("data.pkl"))
            throw ModelLoadError(name + ": zip archive without data.pkl, not a torch.save checkpoint");
        auto [pickle, pickle_size] = reader.getRecord("data.pkl");
        const PickleDocument document =
            read_torch_pickle(static_cast<const std::uint8_t*>(pickle.get()), pickle_size, name);
        TensorBuilder builder(reader, name);
        flatten(*unwrap_state_dict(document.root), "", 0, builder, tensors);
    } catch (const c10::Error& e) {
        throw ModelLoadError(name + ": not a readable PyTorch checkpoint (" + e.what_without_backtrace() + ")");
    }
    if (tensors.empty())
        throw ModelLoadError(name + ": PyTorch checkpoint holds no tensors (expected a dict of weights)");
    return tensors;
}

}  // namespace ips::io
