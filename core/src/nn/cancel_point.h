#pragma once
// Cancelling inside a network's forward. A 384 px batch-1 UNet step takes about a second on two cores and a
// 512 px VAE decode several: checked only between steps, a Live edit or a Cancel click would wait for the rest of
// one. A generation puts its CancelToken in scope on the thread that runs it; the engine (between steps and
// images) and the UNet, ControlNet and VAE blocks (between their layers) call cancel_point(), which throws
// Cancelled once the token fired.
#include "ips/generation.h"

namespace ips::nn {

class CancelScope {
public:
    explicit CancelScope(const CancelToken* token);
    ~CancelScope();
    CancelScope(const CancelScope&) = delete;
    CancelScope& operator=(const CancelScope&) = delete;

private:
    const CancelToken* previous_;
};

// Throws Cancelled when the token in scope on this thread fired; nothing without one (tests, benchmarks).
void cancel_point();

}  // namespace ips::nn
