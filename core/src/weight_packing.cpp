#include "ips/weight_packing.h"

#include "nn/packed_conv.h"

namespace ips {

void set_weight_packing(bool on) {
    const bool enabled = on || nn::packed_conv_default();
    nn::set_packed_conv_enabled(enabled);
    if (!enabled) nn::release_packed_weights();
}

bool weight_packing() { return nn::packed_conv_available(); }

}  // namespace ips
