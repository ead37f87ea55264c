#pragma once
// Writes a file so that readers only ever see the old or the complete new content: the bytes go to a
// temporary file beside the target, are flushed to disk, then renamed over it — or, when an existing file
// must be kept, renamed with RENAME_NOREPLACE (link() where the file system lacks it), so that a file that
// appears between a check and the write is never replaced.
#include <filesystem>
#include <functional>
#include <ostream>

namespace ips::io {

enum class ExistingFile { Replace, Keep };

// Calls `write` with a stream on a temporary file, then renames it to `path`. Throws InputError naming
// the file when it cannot be written, or ("already exists") when `existing` is Keep and `path` exists;
// the temporary file is removed on failure.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write,
                           ExistingFile existing = ExistingFile::Replace);

}  // namespace ips::io
