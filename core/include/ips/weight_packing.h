#pragma once
// Convolution weights packed once into oneDNN's blocked layout (nn/packed_conv.h), for the whole process.
// LibTorch reorders every bfloat16 convolution's weights on every call; packed, a batch-1 384 px SD1.5 UNet
// step loses those reorders (0.17 s of a 1.26 s step in a oneDNN trace) and holds about 0.7 GB more memory.
// Off by default (IPS_PACKED_CONV=1 starts a process with it on); Live mode turns it on while it runs, where
// a step's latency is what the artist waits for.

namespace ips {

// On: convolutions pack their weights from their next call (where the CPU has oneDNN's native bfloat16
// kernel). Off: back to the process default; the packed copies are freed unless that default is on.
void set_weight_packing(bool on);
// Whether convolutions pack now.
bool weight_packing();

}  // namespace ips
