#pragma once
// A read-only view of a whole file through mmap, so multi-gigabyte weights are never copied.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace ips::io {

class MappedFile {
public:
    // Throws ModelLoadError naming the file when it is missing, a directory or cannot be mapped.
    static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }
    const std::filesystem::path& path() const { return path_; }

private:
    MappedFile(std::filesystem::path path, std::uint8_t* data, std::size_t size)
        : path_(std::move(path)), data_(data), size_(size) {}
    std::filesystem::path path_;
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace ips::io
