#include "ips/runtime.h"

#include <malloc.h>
#include <sched.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include <ATen/Parallel.h>

namespace ips {
namespace {

// Cores this process may run on, counting hyper-thread siblings once: two threads on one core share its
// vector units, so a second compute thread there only adds contention. Falls back to the logical count.
int physical_cores() {
    const int logical = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#ifdef __linux__
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return logical;
    std::set<std::pair<std::string, std::string>> cores;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        const std::string topology = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        std::string package, core;
        std::ifstream(topology + "physical_package_id") >> package;
        std::ifstream(topology + "core_id") >> core;
        if (package.empty() || core.empty()) return std::min(logical, CPU_COUNT(&allowed));
        cores.emplace(package, core);
    }
    if (!cores.empty()) return static_cast<int>(cores.size());
#endif
    return logical;
}

}  // namespace

int default_thread_count() {
    static const int cores = physical_cores();
    return cores;
}

void configure_runtime(int threads) {
    at::set_num_threads(threads > 0 ? threads : default_thread_count());
#ifdef __GLIBC__
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace ips
