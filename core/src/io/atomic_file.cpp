#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>

#include "io/json_file.h"
#include "ips/errors.h"

namespace ips::io {
namespace {
std::filesystem::path temporary_sibling(const std::filesystem::path& path) {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    auto name = path.filename();
    name += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd() ^ counter++);
    return path.parent_path() / name;
}

void fsync_path(const std::filesystem::path& path, bool directory) {
    const int fd = ::open(path.empty() ? "." : path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}
}  // namespace

void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write) {
    const auto temp = temporary_sibling(path);
    try {
        {
            std::ofstream out(temp, std::ios::binary | std::ios::trunc);
            if (!out) throw InputError(display_path(path) + ": cannot create file in this folder");
            write(out);
            out.flush();
            if (!out) throw InputError(display_path(path) + ": write failed (disk full?)");
        }
        fsync_path(temp, false);
        std::error_code ec;
        std::filesystem::rename(temp, path, ec);
        if (ec) throw InputError(display_path(path) + ": cannot replace file (" + ec.message() + ")");
        fsync_path(path.parent_path(), true);
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        throw;
    }
}

}  // namespace ips::io
