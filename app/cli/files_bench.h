#pragma once
// ipstudio-cli bench --only files: a cold generation from files in the real layout, in a child process, so its
// peak memory is what a user's first `generate` takes (the in-memory benchmarks build networks without files).
#include <filesystem>

#include "ips/bench.h"

namespace ipscli {

// Writes the SD1.5-size files into `folder` (or reuses them when its request.json exists; a fresh temporary
// folder, removed after, when empty), then runs `ipstudio-cli generate` on them twice: with the file pages
// released after conversion (the default) and kept (IPS_RELEASE_FILE_PAGES=0), printing wall time and the
// child's own peak RSS (VmHWM, which it writes at exit: see report_peak_rss_at_exit).
void run_files_bench(const ips::BenchOptions& options, const std::filesystem::path& folder);

// With IPS_PEAK_RSS_FILE set, the process writes its VmHWM (MB) there when it exits. The child's own figure:
// wait4's ru_maxrss also counts the parent's high-water mark, whose memory a spawned child shares until exec.
void report_peak_rss_at_exit();

}  // namespace ipscli
