#include "io/atomic_file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc 2.28+)
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "io/json_file.h"
#include "ips/file_moves.h"
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
}  // namespace ips::io

namespace ips {

bool move_file_without_replacing(const std::filesystem::path& from, const std::filesystem::path& to) {
    using io::display_path;
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
    if (errno == EEXIST) return false;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        throw InputError(display_path(to) + ": cannot create file (" + std::strerror(errno) + ")");
    // File systems without RENAME_NOREPLACE: link() also fails when the name exists.
    if (::link(from.c_str(), to.c_str()) != 0) {
        if (errno == EEXIST) return false;
        throw InputError(display_path(to) + ": cannot create file (" + std::strerror(errno) + ")");
    }
    ::unlink(from.c_str());
    return true;
}

}  // namespace ips

namespace ips::io {

void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write,
                           ExistingFile existing) {
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
        if (existing == ExistingFile::Keep) {
            if (!move_file_without_replacing(temp, path))
                throw InputError(display_path(path) + ": already exists (choose another name or allow overwriting)");
        } else {
            std::filesystem::rename(temp, path, ec);
            if (ec) throw InputError(display_path(path) + ": cannot replace file (" + ec.message() + ")");
        }
        fsync_path(path.parent_path(), true);
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        throw;
    }
}

}  // namespace ips::io
