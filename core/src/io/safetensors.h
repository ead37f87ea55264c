#pragma once
// The safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the data.
// Parsing and validation are torch-free (and fuzzed); safetensors_torch.h turns entries into tensors.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "io/mapped_file.h"

namespace ips::io {

struct TensorEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;  // byte range relative to the start of the data section
    std::uint64_t end = 0;
};

struct SafetensorsHeader {
    std::vector<TensorEntry> tensors;  // sorted by name
    std::map<std::string, std::string> metadata;
    std::uint64_t data_offset = 0;  // 8 + header length
};

// Upper bound on the JSON header (the reference implementation uses 100 MB).
constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

// Validates everything before any tensor is touched: header length sane and inside the file, valid
// JSON object, known dtypes, shape x dtype size equal to the byte range, ranges inside the data
// section and not overlapping. `file_name` only appears in error messages (ModelLoadError).
SafetensorsHeader parse_safetensors_header(const std::uint8_t* data, std::size_t size,
                                           const std::string& file_name);

// A memory-mapped, validated safetensors file.
class SafetensorsFile {
public:
    static SafetensorsFile open(const std::filesystem::path& path);

    const std::vector<TensorEntry>& tensors() const { return header_.tensors; }
    const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
    const TensorEntry* find(const std::string& name) const;
    // Pointer to the first byte of the tensor inside the mapping.
    const std::uint8_t* bytes(const TensorEntry& entry) const;
    const std::shared_ptr<const MappedFile>& mapping() const { return file_; }
    const std::filesystem::path& path() const { return file_->path(); }

private:
    SafetensorsFile(std::shared_ptr<const MappedFile> file, SafetensorsHeader header)
        : file_(std::move(file)), header_(std::move(header)) {}
    std::shared_ptr<const MappedFile> file_;
    SafetensorsHeader header_;
};

// Serialises a header for tensors whose data will follow in the given order (offsets computed here);
// the JSON is space-padded to a multiple of 8 bytes so the data stays aligned.
std::string build_safetensors_header(const std::vector<TensorEntry>& tensors,
                                     const std::map<std::string, std::string>& metadata);

}  // namespace ips::io
