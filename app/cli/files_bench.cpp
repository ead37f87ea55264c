#include "files_bench.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "ips/errors.h"

extern char** environ;

namespace ipscli {
namespace {

namespace fs = std::filesystem;

struct ChildRun {
    double seconds = 0;
    double peak_rss_mb = 0;
};

// This executable's `generate` on the request, with `environment_extra` added; its peak RSS as it reports it.
ChildRun run_generate(const fs::path& request, const fs::path& output, const std::string& environment_extra) {
    const fs::path peak_file = output.parent_path() / "peak-rss.txt";
    std::error_code ec;
    fs::remove(peak_file, ec);
    std::vector<std::string> args{"ipstudio-cli", "generate", request.string(), "--output", output.string(), "--force", "--quiet"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
    if (!environment_extra.empty()) env_strings.push_back(environment_extra);
    env_strings.push_back("IPS_PEAK_RSS_FILE=" + peak_file.string());
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    const auto start = std::chrono::steady_clock::now();
    posix_spawn_file_actions_t quiet;  // the child's "wrote OUT.png" line stays out of the table
    ::posix_spawn_file_actions_init(&quiet);
    ::posix_spawn_file_actions_addopen(&quiet, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int err = ::posix_spawn(&pid, "/proc/self/exe", &quiet, nullptr, argv.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&quiet);
    if (err != 0)
        throw ips::Error(std::string("bench files: cannot start ipstudio-cli generate (") + std::strerror(err) + ")");
    int status = 0;
    ::waitpid(pid, &status, 0);
    ChildRun r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw ips::Error("bench files: ipstudio-cli generate " + request.string() + " failed (status " + std::to_string(status) + ")");
    std::ifstream peak(peak_file);
    if (!(peak >> r.peak_rss_mb)) throw ips::Error("bench files: the child wrote no peak RSS to " + peak_file.string());
    return r;
}

}  // namespace

void report_peak_rss_at_exit() {
    if (!std::getenv("IPS_PEAK_RSS_FILE")) return;
    std::atexit([] { std::ofstream(std::getenv("IPS_PEAK_RSS_FILE")) << ips::process_peak_rss_mb() << "\n"; });
}

void run_files_bench(const ips::BenchOptions& options, const fs::path& given) {
    const bool temporary = given.empty();
    const fs::path folder = temporary ? fs::temp_directory_path() / ("ipstudio-bench-files-" + std::to_string(::getpid())) : given;
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code ec;
            if (!p.empty()) fs::remove_all(p, ec);
        }
    } cleanup{temporary ? folder : fs::path()};

    fs::path request = folder / "request.json";
    std::error_code ec;
    if (!fs::is_regular_file(request, ec)) {
        std::printf("files: writing SD1.5-size fp16 files (UNet, VAE, text encoder, ViT-H image encoder, IP-Adapter) to %s\n",
                    folder.string().c_str());
        std::fflush(stdout);
        fs::create_directories(folder);
        const auto start = std::chrono::steady_clock::now();
        request = ips::write_model_files(options, folder);
        std::printf("files: written in %.1f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::uintmax_t bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(folder))
        if (e.is_regular_file()) bytes += e.file_size();
    std::printf("files: %.2f GB; cold `ipstudio-cli generate` on %s (%dx%d, %d DDIM steps, bfloat16, IP-Adapter base), one process each:\n",
                static_cast<double>(bytes) / 1e9, request.string().c_str(), options.width, options.height, options.steps);
    std::fflush(stdout);
    const fs::path output = folder / "out.png";
    for (const auto& [label, env] : {std::pair<const char*, const char*>{"file pages released after conversion", ""},
                                     {"file pages kept (IPS_RELEASE_FILE_PAGES=0)", "IPS_RELEASE_FILE_PAGES=0"}}) {
        const ChildRun r = run_generate(request, output, env);
        const std::string size = std::to_string(options.width) + "x" + std::to_string(options.height);
        std::printf("%-14s %-9s %-6s %-9s %5d %9.3f %9.3f %9.3f %7.0f MB %9s  %s\n", "files", "bfloat16", "NHWC", size.c_str(), 1,
                    r.seconds, r.seconds, r.seconds, r.peak_rss_mb, "-", label);
        std::fflush(stdout);
    }
}

}  // namespace ipscli
