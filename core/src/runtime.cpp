#include "ips/runtime.h"

#include <malloc.h>

#include <algorithm>
#include <thread>

#include <ATen/Parallel.h>

namespace ips {

void configure_runtime(int threads) {
    const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(n);
#ifdef __GLIBC__
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace ips
