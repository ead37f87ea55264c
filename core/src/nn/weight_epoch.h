#pragma once
// A counter that moves whenever weights change in place (a LoRA merged, reweighted or removed). Copies made
// from weights (packed convolution weights, the phase kernels of an upsampling convolution) remember the
// value they were made at and are made again once it moved. Replacing a weight's tensor (set_data) needs no
// call: those copies follow the weight's memory as well.
namespace ips::nn {

void weights_changed_in_place();
unsigned weights_epoch();

}  // namespace ips::nn
