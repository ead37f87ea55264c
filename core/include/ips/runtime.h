#pragma once
// Process-wide engine settings.

namespace ips {

// Compute threads by default: one per physical core the process may use (hyper-threads not counted).
int default_thread_count();

// Intra-op threads (0 = default_thread_count()) for the calling thread's LibTorch work, and glibc malloc told to
// keep freed memory: every layer allocates and frees activations of hundreds of MB, which served by
// mmap would be returned to the kernel and faulted in again each time (measured: a 256x256 generation
// with the tiny test model took 26.6 s without, 4.4 s with). Pipeline's constructor calls it.
void configure_runtime(int threads = 0);

}  // namespace ips
