#pragma once
// Modules built while a DefaultDtypeScope lives create their (default-initialised) weights in `dtype`,
// so a network loaded or generated in bfloat16 never first exists in float32 — twice the memory at the
// moment its weights are replaced. The default dtype is process-wide: only the thread that runs the
// engine may build modules meanwhile (the engine runs on one thread).
#include <c10/core/DefaultDtype.h>
#include <c10/core/ScalarType.h>

#include <utility>

namespace ips::nn {

class DefaultDtypeScope {
public:
    explicit DefaultDtypeScope(at::ScalarType dtype) : saved_(c10::get_default_dtype()) {
        if (dtype == at::kBFloat16 || dtype == at::kHalf || dtype == at::kFloat) c10::set_default_dtype(c10::scalarTypeToTypeMeta(dtype));
    }
    ~DefaultDtypeScope() { c10::set_default_dtype(saved_); }
    DefaultDtypeScope(const DefaultDtypeScope&) = delete;
    DefaultDtypeScope& operator=(const DefaultDtypeScope&) = delete;

private:
    caffe2::TypeMeta saved_;
};

// A module constructed with its weights in `dtype`: build_in<UNet2DConditionModel>(target.dtype, config).
template <typename Module, typename... Args>
Module build_in(at::ScalarType dtype, Args&&... args) {
    DefaultDtypeScope scope(dtype);
    return Module(std::forward<Args>(args)...);
}

}  // namespace ips::nn
