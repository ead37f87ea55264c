#include "io/weights.h"

#include <array>
#include <cstring>
#include <fstream>

#include <ATen/ATen.h>

#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/torch_checkpoint.h"
#include "ips/errors.h"

namespace ips::io {
namespace {

at::ScalarType to_scalar_type(DType dtype) {
    switch (dtype) {
        case DType::F64: return at::kDouble;
        case DType::F32: return at::kFloat;
        case DType::F16: return at::kHalf;
        case DType::BF16: return at::kBFloat16;
        case DType::I64: return at::kLong;
        case DType::I32: return at::kInt;
        case DType::I16: return at::kShort;
        case DType::I8: return at::kChar;
        case DType::U8: return at::kByte;
        case DType::BOOL: return at::kBool;
    }
    throw std::logic_error("unhandled dtype");
}

DType from_scalar_type(at::ScalarType type, const std::string& tensor) {
    switch (type) {
        case at::kDouble: return DType::F64;
        case at::kFloat: return DType::F32;
        case at::kHalf: return DType::F16;
        case at::kBFloat16: return DType::BF16;
        case at::kLong: return DType::I64;
        case at::kInt: return DType::I32;
        case at::kShort: return DType::I16;
        case at::kChar: return DType::I8;
        case at::kByte: return DType::U8;
        case at::kBool: return DType::BOOL;
        default: throw InputError("tensor '" + tensor + "': dtype " + std::string(c10::toString(type)) +
                                  " cannot be stored in safetensors");
    }
}

}  // namespace

WeightsFormat sniff_weights_format(const std::filesystem::path& path) {
    const std::string name = display_path(path);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw ModelLoadError(name + ": is a directory, expected a weights file (.safetensors, .bin, .ckpt)");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ModelLoadError(name + ": cannot open file");
    std::array<unsigned char, 9> head{};
    in.read(reinterpret_cast<char*>(head.data()), head.size());
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) throw ModelLoadError(name + ": file is empty, expected a weights file");
    if (got >= 4 && std::memcmp(head.data(), "PK\x03\x04", 4) == 0) return WeightsFormat::TorchZip;
    if (got >= 4 && std::memcmp(head.data(), "\x89PNG", 4) == 0)
        throw ModelLoadError(name + ": is a PNG image, expected a weights file (.safetensors, .bin, .ckpt)");
    if (got >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF)
        throw ModelLoadError(name + ": is a JPEG image, expected a weights file (.safetensors, .bin, .ckpt)");
    if (head[0] == 0x80 && got >= 2 && head[1] >= 2 && head[1] <= 5)
        throw ModelLoadError(name + ": legacy (non-zip) PyTorch pickle format is unsupported; "
                                    "convert it to safetensors or re-save it with a current torch.save");
    if (got == 9 && head[8] == '{') return WeightsFormat::Safetensors;
    if (got < 9) throw ModelLoadError(name + ": file is " + std::to_string(got) + " bytes, too short for a weights file");
    // Let the safetensors parser explain what is wrong with the header.
    return WeightsFormat::Safetensors;
}

at::Tensor tensor_from_entry(const SafetensorsFile& file, const TensorEntry& entry) {
    const auto type = to_scalar_type(entry.dtype);
    const auto options = at::TensorOptions().dtype(type).device(at::kCPU);
    const std::uint8_t* bytes = file.bytes(entry);
    if (entry.end == entry.begin) return at::empty(entry.shape, options);
    if (reinterpret_cast<std::uintptr_t>(bytes) % dtype_size(entry.dtype) != 0) {
        at::Tensor copy = at::empty(entry.shape, options);
        std::memcpy(copy.data_ptr(), bytes, entry.end - entry.begin);
        return copy;
    }
    // The deleter keeps the mapping alive as long as any tensor views it.
    auto keep_alive = file.mapping();
    return at::from_blob(const_cast<std::uint8_t*>(bytes), entry.shape, [keep_alive](void*) {}, options);
}

Weights load_weights(const std::filesystem::path& path) {
    Weights out;
    out.path = path;
    out.format = sniff_weights_format(path);
    if (out.format == WeightsFormat::TorchZip) {
        out.tensors = load_torch_checkpoint(path);
        return out;
    }
    const auto file = SafetensorsFile::open(path);
    for (const auto& entry : file.tensors()) out.tensors.emplace(entry.name, tensor_from_entry(file, entry));
    out.metadata = file.metadata();
    return out;
}

void save_safetensors(const std::filesystem::path& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata, ExistingFile existing) {
    std::vector<TensorEntry> entries;
    std::vector<at::Tensor> contiguous;
    std::uint64_t offset = 0;
    for (const auto& [name, tensor] : tensors) {
        TensorEntry e;
        e.name = name;
        e.dtype = from_scalar_type(tensor.scalar_type(), name);
        e.shape = tensor.sizes().vec();
        at::Tensor c = tensor.to(at::kCPU).contiguous();
        e.begin = offset;
        e.end = offset + c.nbytes();
        offset = e.end;
        entries.push_back(std::move(e));
        contiguous.push_back(std::move(c));
    }
    const std::string header = build_safetensors_header(entries, metadata);
    write_file_atomically(path, [&](std::ostream& out) {
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        for (const auto& c : contiguous)
            out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
    }, existing);
}

std::vector<TensorInfo> read_tensor_infos(const std::filesystem::path& path) {
    std::vector<TensorInfo> infos;
    if (sniff_weights_format(path) == WeightsFormat::Safetensors) {
        const auto file = SafetensorsFile::open(path);
        for (const auto& e : file.tensors())
            infos.push_back({e.name, std::string(dtype_name(e.dtype)), e.shape});
        return infos;
    }
    for (const auto& [name, tensor] : load_torch_checkpoint(path))
        infos.push_back({name, std::string(dtype_name(from_scalar_type(tensor.scalar_type(), name))),
                         tensor.sizes().vec()});
    return infos;
}

Weights load_user_tensors(const std::filesystem::path& path) {
    try {
        return load_weights(path);
    } catch (const ModelLoadError& e) {
        throw InputError(e.what());
    }
}

}  // namespace ips::io
