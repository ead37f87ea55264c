#pragma once
// Writes a file so that readers only ever see the old or the complete new content: the bytes go to a
// temporary file beside the target, are flushed to disk, then renamed over it.
#include <filesystem>
#include <functional>
#include <ostream>

namespace ips::io {

// Calls `write` with a stream on a temporary file, then renames it to `path`. Throws InputError naming
// the file when it cannot be written; the temporary file is removed on failure.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write);

}  // namespace ips::io
