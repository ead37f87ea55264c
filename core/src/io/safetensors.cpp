#include "io/safetensors.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "ips/errors.h"

namespace ips::io {
namespace {

[[noreturn]] void fail(const std::string& file, const std::string& what) {
    throw ModelLoadError(file + ": not a valid safetensors file: " + what);
}

std::uint64_t as_offset(const nlohmann::json& v, const std::string& file, const std::string& tensor) {
    if (!v.is_number_unsigned()) fail(file, "tensor '" + tensor + "': data_offsets must be non-negative integers");
    return v.get<std::uint64_t>();
}

TensorEntry parse_entry(const std::string& name, const nlohmann::json& value, const std::string& file,
                        std::uint64_t data_size) {
    if (!value.is_object()) fail(file, "tensor '" + name + "': expected an object");
    TensorEntry entry;
    entry.name = name;
    const auto dtype_it = value.find("dtype");
    if (dtype_it == value.end() || !dtype_it->is_string()) fail(file, "tensor '" + name + "': missing dtype");
    const auto dtype = dtype_from_name(dtype_it->get<std::string>());
    if (!dtype)
        fail(file, "tensor '" + name + "': unknown dtype '" + dtype_it->get<std::string>() +
                       "' (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL)");
    entry.dtype = *dtype;

    const auto shape_it = value.find("shape");
    if (shape_it == value.end() || !shape_it->is_array()) fail(file, "tensor '" + name + "': missing shape");
    // Element count with overflow checks: a hostile header must not wrap around.
    std::uint64_t numel = 1;
    bool overflow = false;
    for (const auto& dim : *shape_it) {
        if (!dim.is_number_unsigned()) fail(file, "tensor '" + name + "': shape must hold non-negative integers");
        const auto d = dim.get<std::uint64_t>();
        if (d > static_cast<std::uint64_t>(INT64_MAX)) overflow = true;
        if (d != 0 && numel > UINT64_MAX / d) overflow = true;
        else numel *= d;
        entry.shape.push_back(static_cast<std::int64_t>(d));
    }
    const auto offsets_it = value.find("data_offsets");
    if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2)
        fail(file, "tensor '" + name + "': data_offsets must be [begin, end]");
    entry.begin = as_offset((*offsets_it)[0], file, name);
    entry.end = as_offset((*offsets_it)[1], file, name);
    if (entry.end < entry.begin) fail(file, "tensor '" + name + "': data_offsets end before begin");
    if (entry.end > data_size)
        fail(file, "tensor '" + name + "': data_offsets [" + std::to_string(entry.begin) + ", " +
                       std::to_string(entry.end) + "] outside the data section of " + std::to_string(data_size) +
                       " bytes (truncated file?)");
    const std::uint64_t item = dtype_size(entry.dtype);
    if (overflow || (numel != 0 && numel > UINT64_MAX / item) || numel * item != entry.end - entry.begin)
        fail(file, "tensor '" + name + "': byte count " + std::to_string(entry.end - entry.begin) +
                       " does not match shape and dtype " + std::string(dtype_name(entry.dtype)));
    return entry;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const std::uint8_t* data, std::size_t size, const std::string& file) {
    if (size < 8) fail(file, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
    std::uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
    if (header_len > kMaxSafetensorsHeader)
        fail(file, "header length " + std::to_string(header_len) + " exceeds the " +
                       std::to_string(kMaxSafetensorsHeader) + "-byte limit");
    if (header_len > size - 8)
        fail(file, "header length " + std::to_string(header_len) + " is larger than the file (" +
                       std::to_string(size) + " bytes)");
    if (header_len < 2 || data[8] != '{') fail(file, "header does not start with a JSON object");

    nlohmann::json header;
    try {
        header = nlohmann::json::parse(data + 8, data + 8 + header_len);
    } catch (const nlohmann::json::exception& e) {
        fail(file, std::string("header is not valid JSON (") + e.what() + ")");
    }
    if (!header.is_object()) fail(file, "header is not a JSON object");

    SafetensorsHeader out;
    out.data_offset = 8 + header_len;
    const std::uint64_t data_size = size - out.data_offset;
    for (const auto& [key, value] : header.items()) {
        if (key == "__metadata__") {
            if (!value.is_object()) fail(file, "__metadata__ is not an object");
            for (const auto& [mk, mv] : value.items()) {
                if (!mv.is_string()) fail(file, "__metadata__ value of '" + mk + "' is not a string");
                out.metadata.emplace(mk, mv.get<std::string>());
            }
            continue;
        }
        out.tensors.push_back(parse_entry(key, value, file, data_size));
    }

    // No two tensors may share bytes.
    std::vector<const TensorEntry*> by_offset;
    for (const auto& t : out.tensors)
        if (t.end > t.begin) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
    for (std::size_t i = 1; i < by_offset.size(); ++i)
        if (by_offset[i]->begin < by_offset[i - 1]->end)
            fail(file, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");

    std::sort(out.tensors.begin(), out.tensors.end(),
              [](const TensorEntry& a, const TensorEntry& b) { return a.name < b.name; });
    return out;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
    auto file = MappedFile::open(path);
    auto header = parse_safetensors_header(file->data(), file->size(), display_path(path));
    return SafetensorsFile(std::move(file), std::move(header));
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
    auto it = std::lower_bound(header_.tensors.begin(), header_.tensors.end(), name,
                               [](const TensorEntry& e, const std::string& n) { return e.name < n; });
    return (it != header_.tensors.end() && it->name == name) ? &*it : nullptr;
}

const std::uint8_t* SafetensorsFile::bytes(const TensorEntry& entry) const {
    return file_->data() + header_.data_offset + entry.begin;
}

std::string build_safetensors_header(const std::vector<TensorEntry>& tensors,
                                     const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    for (const auto& t : tensors) {
        if (t.name == "__metadata__") throw InputError("'__metadata__' cannot be used as a tensor name");
        header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                          {"shape", t.shape},
                          {"data_offsets", {t.begin, t.end}}};
    }
    std::string json = header.dump();
    while ((json.size() + 8) % 8 != 0) json.push_back(' ');
    std::string out(8, '\0');
    std::uint64_t len = json.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xFF);
    return out + json;
}

}  // namespace ips::io
