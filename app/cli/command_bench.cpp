// ipstudio-cli bench [--json] [--only NAME]... [--dtype D]... [--size WxH] [--repeat N] [--batch N]
//                    [--channels-last on|off] [--configs DIR] [--attention fused,plain,amx,avx512]
//                    [--upsample phase,plain] [--rounds N]
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_args.h"
#include "files_bench.h"
#include "ips/bench.h"

namespace ipscli {
namespace {

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

int to_int(const std::string& flag, const std::string& value) {
    try {
        std::size_t used = 0;
        const int v = std::stoi(value, &used);
        if (used == value.size() && v > 0) return v;
    } catch (...) {
    }
    throw UsageError{flag + " " + value + ": expected a positive integer"};
}

nlohmann::json result_json(const ips::BenchResult& r) {
    return {{"name", r.name}, {"dtype", r.dtype}, {"channels_last", r.channels_last}, {"width", r.width},
            {"height", r.height}, {"batch", r.batch}, {"seconds_median", r.seconds_median}, {"seconds_min", r.seconds_min},
            {"seconds_max", r.seconds_max}, {"peak_rss_mb", r.peak_rss_mb}, {"gflop", r.gflop}, {"gflops", r.gflops},
            {"steps", r.steps}, {"seconds_per_step", r.seconds_per_step}, {"attention", r.attention}, {"preset", r.preset},
            {"seconds_encoding", r.seconds_encoding}, {"seconds_decoding", r.seconds_decoding}, {"upsample", r.upsample},
            {"speedup_per_round", r.speedup_per_round}};
}

bool is_preset(const std::string& name) {
    const auto& presets = ips::bench_presets();
    return std::any_of(presets.begin(), presets.end(), [&](const ips::BenchPreset& p) { return p.name == name; });
}

// Each generation preset against the plain run of the same precision and attention path.
void print_preset_comparison(const ips::BenchReport& report) {
    for (const auto& plain : report.results) {
        // The plain run is the one that is no preset ("lcm4 packed": a preset run with --packed-conv).
        if (plain.name != "generation" || is_preset(plain.preset.substr(0, plain.preset.find(' ')))) continue;
        for (const auto& fast : report.results)
            if (fast.name == "generation" && &fast != &plain && fast.dtype == plain.dtype && fast.attention == plain.attention) {
                std::printf("generation %s %s: %s %.2f s against %s %.2f s: %.2fx", fast.dtype.c_str(), fast.attention.c_str(),
                            fast.preset.c_str(), fast.seconds_median, plain.preset.c_str(), plain.seconds_median,
                            plain.seconds_median / fast.seconds_median);
                if (fast.speedup_per_round > 0) std::printf(" (round by round: median %.2fx)", fast.speedup_per_round);
                std::printf("\n");
            }
    }
}

// Each fused row against the plain row of the same benchmark, and against the machine's measured peaks.
void print_comparison(const ips::BenchReport& report) {
    if (report.peak_conv_gflops > 0)
        std::printf("machine peaks, bfloat16, this run: 3x3 convolution (channels-last) %.0f GFLOP/s, matrix product %.0f GFLOP/s\n",
                report.peak_conv_gflops, report.peak_matmul_gflops);
    for (const auto& fused : report.results) {
        if (fused.attention.rfind("fused", 0) != 0) continue;
        for (const auto& plain : report.results) {
            if (plain.attention != "plain" || plain.name != fused.name || plain.dtype != fused.dtype ||
                plain.channels_last != fused.channels_last || plain.width != fused.width || plain.height != fused.height)
                continue;
            std::printf("%s %s %s %dx%d: %s %.2f s, plain %.2f s: %.2fx", fused.name.c_str(), fused.dtype.c_str(),
                        fused.channels_last ? "NHWC" : "NCHW", fused.width, fused.height, fused.attention.c_str(),
                        fused.seconds_median, plain.seconds_median, plain.seconds_median / fused.seconds_median);
            if (fused.gflops > 0 && report.peak_conv_gflops > 0)
                std::printf("; %.0f GFLOP/s = %.0f%% of the convolution peak", fused.gflops,
                            100.0 * fused.gflops / report.peak_conv_gflops);
            std::printf("\n");
        }
    }
}

}  // namespace

int run_bench(const std::vector<std::string>& argv) {
    Args args(argv, {"--json"}, {"--only", "--dtype", "--size", "--repeat", "--batch", "--channels-last", "--configs", "--threads", "--steps", "--attention", "--preset", "--files", "--packed-conv", "--upsample", "--rounds"});
    if (!args.positional().empty()) throw UsageError{"unexpected argument " + args.positional()[0]};
    ips::BenchOptions o;
    o.config_root = args.value("--configs") ? std::filesystem::u8path(*args.value("--configs")) : default_configs();
    if (auto v = args.value("--only")) o.only = split(*v);
    if (auto v = args.value("--dtype")) o.dtypes = split(*v);
    if (auto v = args.value("--repeat")) o.repeat = to_int("--repeat", *v);
    if (auto v = args.value("--batch")) o.batch = to_int("--batch", *v);
    if (auto v = args.value("--size")) {
        const auto x = v->find('x');
        if (x == std::string::npos) throw UsageError{"--size " + *v + ": expected WIDTHxHEIGHT, e.g. 512x512"};
        o.width = to_int("--size", v->substr(0, x));
        o.height = to_int("--size", v->substr(x + 1));
    }
    if (auto v = args.value("--steps")) o.steps = to_int("--steps", *v);
    if (auto v = args.value("--attention")) o.attention = split(*v);
    if (auto v = args.value("--preset")) {
        o.presets = split(*v);
        if (std::find(o.only.begin(), o.only.end(), "generation") == o.only.end())
            throw UsageError{"--preset times whole generations: add --only generation"};
    }
    if (auto v = args.value("--rounds")) {
        o.rounds = to_int("--rounds", *v);
        if (o.presets.empty() && std::find(o.only.begin(), o.only.end(), "generation") == o.only.end())
            throw UsageError{"--rounds repeats whole generations: add --only generation"};
    }
    if (auto v = args.value("--packed-conv")) {
        o.packed_conv = split(*v);
        if (o.presets.empty()) throw UsageError{"--packed-conv compares the presets' runs: add --preset NAMES"};
    }
    if (auto v = args.value("--upsample")) o.upsample = split(*v);
    if (auto v = args.value("--channels-last")) {
        if (*v != "on" && *v != "off") throw UsageError{"--channels-last " + *v + ": expected on or off"};
        o.channels_last = *v == "on";
    }
    ips::configure_runtime(args.value("--threads") ? to_int("--threads", *args.value("--threads")) : 0);
    const bool json = args.has("--json");
    const auto files = std::find(o.only.begin(), o.only.end(), "files");
    const bool files_wanted = files != o.only.end();
    if (files_wanted) o.only.erase(files);
    if (args.value("--files") && !files_wanted) throw UsageError{"--files DIR keeps the files of --only files: add --only files"};
    if (files_wanted && json) throw UsageError{"--only files prints a table: leave out --json"};
    if (!json)
        std::printf("%-14s %-9s %-6s %-9s %5s %9s %9s %9s %10s %9s  %s\n", "benchmark", "dtype", "layout", "size", "batch",
                    "median s", "min s", "max s", "peak RSS", "GFLOP/s", "attention");
    if (files_wanted) {
        run_files_bench(o, args.value("--files") ? std::filesystem::u8path(*args.value("--files")) : std::filesystem::path());
        if (o.only.empty()) return kOk;
    }
    const auto report = ips::run_benchmarks(o, [&](const ips::BenchResult& r) {
        if (json) return;
        const std::string size = r.width ? std::to_string(r.width) + "x" + std::to_string(r.height) : "77 tok";
        std::printf("%-14s %-9s %-6s %-9s %5d %9.3f %9.3f %9.3f %7.0f MB %9.1f  %s", r.name.c_str(), r.dtype.c_str(),
                    r.channels_last ? "NHWC" : "NCHW", size.c_str(), r.batch, r.seconds_median, r.seconds_min, r.seconds_max,
                    r.peak_rss_mb, r.gflops, r.attention.c_str());
        if (!r.upsample.empty()) std::printf("   upsampling: %s", r.upsample.c_str());
        if (r.steps)
            std::printf("   %s: %d steps, %.2f s/step, encoders %.2f s, decode %.2f s (whole generation, IP-Adapter base)",
                        r.preset.c_str(), r.steps, r.seconds_per_step, r.seconds_encoding, r.seconds_decoding);
        std::printf("\n");
        std::fflush(stdout);
    });
    if (json) {
        nlohmann::json j = {{"machine", report.machine}, {"results", nlohmann::json::array()}};
        for (const auto& r : report.results) j["results"].push_back(result_json(r));
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("\nmachine: %s (%s), %s torch threads, LibTorch %s\n", report.machine.at("cpu").c_str(),
                    report.machine.at("cpu_features").c_str(), report.machine.at("torch_threads").c_str(),
                    report.machine.at("torch_version").c_str());
        print_comparison(report);
        print_preset_comparison(report);
    }
    return kOk;
}

}  // namespace ipscli
