#include "io/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/json_file.h"
#include "ips/errors.h"

namespace ips::io {

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
    const std::string name = display_path(path);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw ModelLoadError(name + ": cannot open file (" + std::strerror(errno) + ")");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw ModelLoadError(name + ": cannot stat file (" + std::strerror(err) + ")");
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw ModelLoadError(name + ": is a directory, expected a weights file");
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw ModelLoadError(name + ": not a regular file");
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    std::uint8_t* data = nullptr;
    if (size > 0) {
        // Private writable mapping: tensors viewing it may be written to by mistake without
        // crashing and without touching the file (copy on write).
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw ModelLoadError(name + ": cannot map file (" + std::strerror(err) + ")");
        }
        data = static_cast<std::uint8_t*>(p);
    }
    ::close(fd);
    return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace ips::io
