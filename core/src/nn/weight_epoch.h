#pragma once
// A counter that moves whenever weights change in place (a LoRA merged, reweighted or removed), and the stamp
// a copy made from a weight (packed convolution weights, the phase kernels of an upsampling convolution)
// keeps of it: the copy is current while the weight is the same memory and the counter has not moved.
// Replacing a weight's tensor (set_data) needs no call: the stamp sees the new memory.
#include <ATen/core/Tensor.h>
#include <c10/core/StorageImpl.h>
#include <c10/util/intrusive_ptr.h>

namespace ips::nn {

void weights_changed_in_place();
unsigned weights_epoch();

class WeightStamp {
public:
    WeightStamp() = default;
    explicit WeightStamp(const at::Tensor& weight);  // an undefined tensor (no bias) gives a stamp of none
    bool matches(const at::Tensor& weight) const;

private:
    // A weak reference keeps the storage's address from being reused by a newer weight while the stamp lives:
    // a storage that matches is the same weight in the same memory, not one allocated where an old one was.
    c10::weak_intrusive_ptr<c10::StorageImpl> storage_{c10::intrusive_ptr<c10::StorageImpl>()};
    const void* data_ = nullptr;
    unsigned epoch_ = 0;
    bool defined_ = false;
};

}  // namespace ips::nn
