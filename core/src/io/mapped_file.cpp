#include "io/mapped_file.h"

#include <cerrno>
#include <cstdlib>
#include <string>
#include <cstring>
#include <map>
#include <mutex>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/json_file.h"
#include "ips/errors.h"

namespace ips::io {
namespace {

// Live mappings by start address: release_pages acts only inside one of them.
std::mutex g_live_mutex;
std::map<const std::uint8_t*, std::size_t> g_live;

}  // namespace

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
    if (data != nullptr) {
        std::lock_guard lock(g_live_mutex);
        g_live[data] = size;
    }
    return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
    if (data_ == nullptr) return;
    {
        std::lock_guard lock(g_live_mutex);
        g_live.erase(data_);
    }
    ::munmap(data_, size_);
}

void MappedFile::release_pages(const void* begin, std::size_t length) {
    // IPS_RELEASE_FILE_PAGES=0 keeps them: ipstudio-cli bench --only files measures both in one run.
    static const bool enabled = [] {
        const char* v = std::getenv("IPS_RELEASE_FILE_PAGES");
        return !(v && std::string(v) == "0");
    }();
    if (!enabled) return;
    const auto* first = static_cast<const std::uint8_t*>(begin);
    std::lock_guard lock(g_live_mutex);  // the mapping cannot go away meanwhile
    auto it = g_live.upper_bound(first);
    if (it == g_live.begin()) return;
    --it;
    if (first < it->first || first + length > it->first + it->second) return;  // not (wholly) in a mapping
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const std::uintptr_t start = (reinterpret_cast<std::uintptr_t>(first) + page - 1) / page * page;
    const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(first) + length) / page * page;
    // Private, never written: dropped pages are read from the file again if touched (neighbouring tensors).
    if (end > start) ::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
}

}  // namespace ips::io
