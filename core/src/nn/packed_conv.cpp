#include "nn/packed_conv.h"

#include "nn/weight_epoch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <ATen/ATen.h>

#ifdef IPS_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace ips::nn {

#ifdef IPS_HAVE_DNNL
namespace {

std::atomic<int> g_enabled{-1};  // -1: not decided yet (packed_conv_default)

dnnl::engine& cpu_engine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

dnnl::stream& thread_stream() {
    thread_local dnnl::stream stream(cpu_engine());
    return stream;
}

using Dims = dnnl::memory::dims;
using Tag = dnnl::memory::format_tag;
using DType = dnnl::memory::data_type;

dnnl::convolution_forward::primitive_desc describe(const Dims& src, const Dims& weights, bool bias, const Dims& dst,
                                                   const Dims& stride, const Dims& padding) {
    const dnnl::memory::desc src_md(src, DType::bf16, Tag::nhwc);
    const dnnl::memory::desc weights_md(weights, DType::bf16, Tag::any);  // the kernel's own layout
    const dnnl::memory::desc dst_md(dst, DType::bf16, Tag::nhwc);
    if (bias)
        return {{dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md, weights_md,
                 dnnl::memory::desc({weights[0]}, DType::bf16, Tag::a), dst_md, stride, padding, padding},
                cpu_engine()};
    return {{dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md, weights_md, dst_md, stride, padding, padding},
            cpu_engine()};
}

// oneDNN's reference kernels are far slower than LibTorch's own path: pack only where a native one runs.
bool native_kernel(const dnnl::convolution_forward::primitive_desc& pd) {
    return std::strncmp(pd.impl_info_str(), "ref", 3) != 0;
}

bool probe() {
    try {
        return native_kernel(describe({1, 64, 8, 8}, {64, 64, 3, 3}, true, {1, 64, 8, 8}, {1, 1}, {1, 1}));
    } catch (const dnnl::error&) {
        return false;
    }
}

struct Plan {
    dnnl::convolution_forward primitive;
    dnnl::memory::desc weights_desc;
};

// One convolution's packed weights and its primitives by input size.
struct Packed {
    // A weak reference keeps the key's address from being reused while this entry lives: a key that matches
    // is the same module's weight, and its stamp says whether that is still the memory that was packed.
    c10::weak_intrusive_ptr<c10::TensorImpl> weight;  // expired once the module is gone
    WeightStamp stamp;
    bool unsupported = false;  // this convolution has no native kernel: conv(x) always
    std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> weights;  // by layout (one in practice)
    std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, Plan> plans;

    explicit Packed(const at::Tensor& w) : weight(w.getIntrusivePtr()), stamp(w) {}
    bool current(const at::Tensor& w) const { return !weight.expired() && stamp.matches(w); }
    std::size_t bytes() const {
        std::size_t n = 0;
        for (const auto& [desc, memory] : weights) n += desc.get_size();
        return n;
    }
};

std::mutex g_mutex;
std::unordered_map<const c10::TensorImpl*, Packed> g_packed;

void drop_expired() {
    for (auto it = g_packed.begin(); it != g_packed.end();)
        it = it->second.weight.expired() ? g_packed.erase(it) : std::next(it);
}

Packed& entry_for(const at::Tensor& weight) {
    auto it = g_packed.find(weight.unsafeGetTensorImpl());
    if (it != g_packed.end() && !it->second.current(weight)) {
        g_packed.erase(it);  // another module at the same address, new memory, or weights changed in place
        it = g_packed.end();
    }
    if (it == g_packed.end()) {
        drop_expired();
        it = g_packed.emplace(weight.unsafeGetTensorImpl(), Packed(weight)).first;
    }
    return it->second;
}

const dnnl::memory& packed_weights(Packed& p, const at::Tensor& weight, const dnnl::memory::desc& desc) {
    for (const auto& [d, memory] : p.weights)
        if (d == desc) return memory;
    const Dims dims(weight.sizes().begin(), weight.sizes().end());
    const Tag plain = weight.is_contiguous() ? Tag::oihw : Tag::ohwi;
    dnnl::memory source({dims, DType::bf16, plain}, cpu_engine(), weight.data_ptr());
    dnnl::memory target(desc, cpu_engine());
    dnnl::reorder(source, target).execute(thread_stream(), source, target);
    thread_stream().wait();
    p.weights.emplace_back(desc, target);
    return p.weights.back().second;
}

}  // namespace

bool packed_conv_default() {
    static const bool on = [] {
        const char* v = std::getenv("IPS_PACKED_CONV");
        return v && std::string(v) == "1" && probe();
    }();
    return on;
}

bool packed_conv_available() {
    int enabled = g_enabled.load();
    if (enabled < 0) {
        enabled = packed_conv_default() ? 1 : 0;
        g_enabled = enabled;
    }
    return enabled == 1;
}

void set_packed_conv_enabled(bool enabled) {
    static const bool supported = probe();
    g_enabled = enabled && supported ? 1 : 0;
}

std::size_t packed_conv_bytes() {
    std::lock_guard lock(g_mutex);
    std::size_t n = 0;
    for (const auto& [impl, p] : g_packed) n += p.bytes();  // freed modules' copies too, until dropped
    return n;
}

void release_packed_weights() {
    std::lock_guard lock(g_mutex);
    g_packed.clear();
}

at::Tensor conv2d(torch::nn::Conv2dImpl& conv, const at::Tensor& x) {
    const auto& o = conv.options;
    const at::Tensor& w = conv.weight;
    const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
    const bool packable = x.scalar_type() == at::kBFloat16 && x.dim() == 4 && x.is_cpu() && x.is_contiguous(at::MemoryFormat::ChannelsLast) &&
                       w.scalar_type() == at::kBFloat16 && (w.is_contiguous() || w.is_contiguous(at::MemoryFormat::ChannelsLast)) &&
                       padding && c10::get_if<torch::enumtype::kZeros>(&o.padding_mode()) && o.groups() == 1 &&
                       (*o.dilation())[0] == 1 && (*o.dilation())[1] == 1 && !at::GradMode::is_enabled() &&
                       (!conv.bias.defined() || (conv.bias.scalar_type() == at::kBFloat16 && conv.bias.is_contiguous()));
    if (!packable || !packed_conv_available()) return conv.forward(x);

    const std::int64_t n = x.size(0), h = x.size(2), wd = x.size(3);
    const std::int64_t sh = (*o.stride())[0], sw = (*o.stride())[1], ph = (**padding)[0], pw = (**padding)[1];
    const std::int64_t oh = (h + 2 * ph - w.size(2)) / sh + 1, ow = (wd + 2 * pw - w.size(3)) / sw + 1;
    if (x.size(1) != w.size(1) || oh <= 0 || ow <= 0) return conv.forward(x);  // LibTorch says what is wrong

    std::lock_guard lock(g_mutex);
    Packed& p = entry_for(w);
    if (p.unsupported) return conv.forward(x);
    const auto key = std::make_tuple(n, h, wd);
    auto plan = p.plans.find(key);
    if (plan == p.plans.end()) {
        try {
            auto pd = describe({n, x.size(1), h, wd}, Dims(w.sizes().begin(), w.sizes().end()), conv.bias.defined(), {n, w.size(0), oh, ow},
                               {sh, sw}, {ph, pw});
            if (!native_kernel(pd)) {
                p.unsupported = true;
                return conv.forward(x);
            }
            plan = p.plans.emplace(key, Plan{dnnl::convolution_forward(pd), pd.weights_desc()}).first;
        } catch (const dnnl::error&) {
            p.unsupported = true;
            return conv.forward(x);
        }
    }
    const dnnl::memory& weights = packed_weights(p, w, plan->second.weights_desc);
    at::Tensor y = at::empty({n, w.size(0), oh, ow}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
    dnnl::memory src({{n, x.size(1), h, wd}, DType::bf16, Tag::nhwc}, cpu_engine(), x.data_ptr());
    dnnl::memory dst({{n, w.size(0), oh, ow}, DType::bf16, Tag::nhwc}, cpu_engine(), y.data_ptr());
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
    if (conv.bias.defined())
        args.emplace(DNNL_ARG_BIAS, dnnl::memory({{w.size(0)}, DType::bf16, Tag::a}, cpu_engine(), conv.bias.data_ptr()));
    plan->second.primitive.execute(thread_stream(), args);
    thread_stream().wait();
    return y;
}

#else  // built without oneDNN's headers: LibTorch's own path everywhere

at::Tensor conv2d(const torch::nn::Conv2d& conv, const at::Tensor& x) { return conv.forward(x); }
bool packed_conv_available() { return false; }
bool packed_conv_default() { return false; }
void set_packed_conv_enabled(bool) {}
std::size_t packed_conv_bytes() { return 0; }
void release_packed_weights() {}

#endif

}  // namespace ips::nn
