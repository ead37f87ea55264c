#include "nn/state_dict.h"

#include <malloc.h>
#include <sstream>

#include "io/mapped_file.h"
#include "ips/errors.h"

namespace ips::nn {
namespace {

std::map<std::string, at::Tensor> named_state(const torch::nn::Module& module) {
    std::map<std::string, at::Tensor> state;
    for (const auto& p : module.named_parameters(true)) state.emplace(p.key(), p.value());
    for (const auto& b : module.named_buffers(true)) state.emplace(b.key(), b.value());
    return state;
}


// Lists at most `limit` names, then how many more.
std::string name_list(const std::vector<std::string>& names, std::size_t limit = 8) {
    std::ostringstream s;
    for (std::size_t i = 0; i < names.size() && i < limit; ++i) s << (i ? ", " : "") << names[i];
    if (names.size() > limit) s << ", ... (" << names.size() << " in all)";
    return s.str();
}

}  // namespace

std::string describe_mismatch(const torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors,
                              const std::set<std::string>& ignored) {
    const auto state = named_state(module);
    std::vector<std::string> missing, unexpected, shapes;
    for (const auto& [name, param] : state) {
        auto it = tensors.find(name);
        if (it == tensors.end()) missing.push_back(name);
        else if (it->second.sizes() != param.sizes())
            shapes.push_back(name + " got " + shape_text(it->second.sizes()) + " expected " + shape_text(param.sizes()));
    }
    for (const auto& [name, tensor] : tensors)
        if (!state.count(name) && !ignored.count(name)) unexpected.push_back(name);
    std::ostringstream s;
    if (!missing.empty()) s << "missing: " << name_list(missing);
    if (!unexpected.empty()) s << (s.tellp() > 0 ? "; " : "") << "unexpected: " << name_list(unexpected);
    if (!shapes.empty()) s << (s.tellp() > 0 ? "; " : "") << "shape: " << name_list(shapes, 4);
    return s.str();
}

namespace {
thread_local const std::function<void(std::uint64_t)>* load_observer = nullptr;
}  // namespace

LoadProgressScope::LoadProgressScope(std::function<void(std::uint64_t bytes)> on_loaded) : on_loaded_(std::move(on_loaded)) {
    load_observer = &on_loaded_;
}

LoadProgressScope::~LoadProgressScope() { load_observer = nullptr; }

std::string shape_text(at::IntArrayRef sizes) {
    std::ostringstream s;
    s << "[";
    for (std::size_t i = 0; i < sizes.size(); ++i) s << (i ? ", " : "") << sizes[i];
    s << "]";
    return s.str();
}

void load_state_dict(torch::nn::Module& module, std::map<std::string, at::Tensor>&& tensors, const std::string& file,
                     const std::string& model_name, const LoadTarget& target, const std::set<std::string>& ignored) {
    const std::string problems = describe_mismatch(module, tensors, ignored);
    if (!problems.empty())
        throw ModelLoadError(file + ": weights do not match " + model_name + ": " + problems);
    torch::NoGradGuard no_grad;
    // The freed default weights and conversion temporaries are handed back every 64 MB (malloc keeps
    // freed memory otherwise: see configure_runtime), so a load never holds much more than the model.
    constexpr std::uint64_t kTrimEvery = 64u << 20;
    std::uint64_t converted = 0;
    for (auto& [name, param] : named_state(module)) {
        auto node = tensors.extract(name);
        // The default-initialised weights go first, so their memory can hold the loaded ones.
        param.set_data(at::empty({0}, param.options()));
        const at::Tensor& stored = node.mapped();
        at::Tensor value;
        if (!param.is_floating_point()) {
            value = stored.to(target.device, param.scalar_type());
        } else if (target.channels_last && stored.dim() == 4) {
            // Converted straight into the channels-last layout: one new tensor, no temporary.
            value = at::empty(stored.sizes(), stored.options().device(target.device).dtype(target.dtype).memory_format(at::MemoryFormat::ChannelsLast));
            value.copy_(stored);
        } else {
            value = stored.to(target.device, target.dtype);
        }
        const std::uint64_t stored_bytes = node.mapped().nbytes();
        // Converted: the file's bytes are not needed any more; without this the pages read so far stay
        // resident until the last tensor of the file is loaded (6.3 GB peak for SD1.5 fp16 files, not ~4).
        if (!value.is_alias_of(node.mapped())) io::MappedFile::release_pages(node.mapped().data_ptr(), stored_bytes);
        node.mapped().reset();
        if (load_observer) (*load_observer)(stored_bytes);
        param.set_data(value);
        converted += stored_bytes;
        if (converted >= kTrimEvery) {
            ::malloc_trim(0);
            converted = 0;
        }
    }
    ::malloc_trim(0);
}

}  // namespace ips::nn
