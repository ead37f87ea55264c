#pragma once
// Keeps LibTorch's OpenMP pool out of a stretch of code on this thread: inside the scope, parallel
// regions started from this thread run on it alone. For loops that interleave small LibTorch operations
// with OpenBLAS GEMMs (which bring their own threads): OpenMP's workers spin for about a millisecond after
// each region and take the cores from OpenBLAS's threads. Only this thread's setting changes (an OpenMP
// per-thread variable), unlike at::set_num_threads.
namespace ips::nn::kernels {

class SerialOpenMpScope {
public:
    SerialOpenMpScope();
    ~SerialOpenMpScope();
    SerialOpenMpScope(const SerialOpenMpScope&) = delete;
    SerialOpenMpScope& operator=(const SerialOpenMpScope&) = delete;
    // The thread count in force before the scope (how many threads the caller may use itself).
    int threads_before() const { return before_; }

private:
    int before_;
};

}  // namespace ips::nn::kernels
