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

    // Hands back the memory of bytes read from a mapped file once they have been copied elsewhere (weights
    // converted to the model's dtype): the whole pages inside [begin, begin + length) leave the resident set.
    // The bytes stay readable (read again from the file), so other views of them are unaffected. A range
    // outside every live mapping is left alone, so heap tensors can be passed safely.
    static void release_pages(const void* begin, std::size_t length);

private:
    MappedFile(std::filesystem::path path, std::uint8_t* data, std::size_t size)
        : path_(std::move(path)), data_(data), size_(size) {}
    std::filesystem::path path_;
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace ips::io
