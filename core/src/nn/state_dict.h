#pragma once
// Strict loading of named tensors into a module: every parameter and buffer must be present with its
// exact shape, and every tensor must be used; all problems are reported in one error naming the file.
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include <torch/nn.h>

namespace ips::nn {

struct LoadTarget {
    at::ScalarType dtype = at::kFloat;
    at::Device device = at::kCPU;
    bool channels_last = false;  // convolution weights in NHWC (the fast layout for bf16 on CPU)
};

// Consumes `tensors` one at a time (each is released once converted), so a checkpoint stored in another
// precision never exists twice in full. Tensors already in the target dtype and device are used as they
// are (no copy: memory-mapped weights stay mapped). `ignored` names tensors that may be present without a
// matching parameter (e.g. transformers' position_ids buffer).
void load_state_dict(torch::nn::Module& module, std::map<std::string, at::Tensor>&& tensors, const std::string& file,
                     const std::string& model_name, const LoadTarget& target, const std::set<std::string>& ignored = {});

// While one exists, every parameter that load_state_dict brings in on this thread is reported with its size
// as stored (the bytes read from the file): the engine turns it into loading progress. Not nestable.
class LoadProgressScope {
public:
    explicit LoadProgressScope(std::function<void(std::uint64_t bytes)> on_loaded);
    ~LoadProgressScope();
    LoadProgressScope(const LoadProgressScope&) = delete;
    LoadProgressScope& operator=(const LoadProgressScope&) = delete;

private:
    std::function<void(std::uint64_t)> on_loaded_;
};

// "[320, 4, 3, 3]": a shape as load errors print it.
std::string shape_text(at::IntArrayRef sizes);

// The problems of a load, without loading: empty when the names and shapes match exactly.
std::string describe_mismatch(const torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors,
                              const std::set<std::string>& ignored = {});

}  // namespace ips::nn
