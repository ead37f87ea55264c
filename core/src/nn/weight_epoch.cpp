#include "nn/weight_epoch.h"

#include <atomic>

namespace ips::nn {
namespace {
std::atomic<unsigned> g_epoch{0};
}

void weights_changed_in_place() { ++g_epoch; }
unsigned weights_epoch() { return g_epoch.load(); }

}  // namespace ips::nn
