#pragma once
// Moving a finished file into place without ever replacing one that is there (downloads, imports).
#include <filesystem>

namespace ips {

// Renames `from` to `to` in one step unless `to` exists (RENAME_NOREPLACE, or link() + unlink() where the
// file system lacks it): a file that appears at `to` after any earlier check is still never replaced.
// Returns false, leaving `from` in place, when `to` exists; throws InputError naming `to` on other errors.
bool move_file_without_replacing(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace ips
