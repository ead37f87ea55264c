#include "nn/weight_epoch.h"

#include <atomic>

#include <ATen/ATen.h>

namespace ips::nn {
namespace {
std::atomic<unsigned> g_epoch{0};
}

void weights_changed_in_place() { ++g_epoch; }
unsigned weights_epoch() { return g_epoch.load(); }

WeightStamp::WeightStamp(const at::Tensor& weight) : epoch_(weights_epoch()), defined_(weight.defined()) {
    if (!defined_) return;
    storage_ = c10::weak_intrusive_ptr<c10::StorageImpl>(
        c10::intrusive_ptr<c10::StorageImpl>::reclaim_copy(weight.storage().unsafeGetStorageImpl()));
    data_ = weight.data_ptr();
}

bool WeightStamp::matches(const at::Tensor& weight) const {
    if (!weight.defined() || !defined_) return weight.defined() == defined_ && epoch_ == weights_epoch();
    return !storage_.expired() && storage_._unsafe_get_target() == weight.storage().unsafeGetStorageImpl() &&
           data_ == weight.data_ptr() && epoch_ == weights_epoch();
}

}  // namespace ips::nn
