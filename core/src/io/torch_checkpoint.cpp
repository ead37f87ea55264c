#include "io/torch_checkpoint.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/api/compilation_unit.h>
#include <torch/csrc/jit/serialization/import_read.h>

#include "io/json_file.h"
#include "ips/errors.h"

namespace ips::io {
namespace {

void flatten(const c10::IValue& value, const std::string& prefix, std::map<std::string, at::Tensor>& out) {
    if (value.isTensor()) {
        if (!prefix.empty()) out.emplace(prefix, value.toTensor());
        return;
    }
    if (!value.isGenericDict()) return;  // ints, strings, lists, optimizer state: not weights
    for (const auto& item : value.toGenericDict()) {
        const auto& key = item.key();
        std::string name;
        if (key.isString()) name = key.toStringRef();
        else if (key.isInt()) name = std::to_string(key.toInt());
        else continue;
        flatten(item.value(), prefix.empty() ? name : prefix + "." + name, out);
    }
}

}  // namespace

std::map<std::string, at::Tensor> load_torch_checkpoint(const std::filesystem::path& path) {
    const std::string name = display_path(path);
    c10::IValue root;
    try {
        caffe2::serialize::PyTorchStreamReader reader(path.string());
        // Classes pickled by training frameworks (Lightning callbacks, argparse namespaces) become empty
        // placeholder objects: their state is never weights.
        auto unit = std::make_shared<torch::jit::CompilationUnit>();
        auto resolver = [unit](const c10::QualifiedName& qn) -> c10::StrongTypePtr {
            auto existing = unit->get_class(qn);
            if (existing) return c10::StrongTypePtr(unit, existing);
            auto type = c10::ClassType::create(qn, unit);
            unit->register_type(type);
            return c10::StrongTypePtr(unit, type);
        };
        auto loader = [](const at::StrongTypePtr& type, c10::IValue) -> c10::intrusive_ptr<c10::ivalue::Object> {
            return c10::ivalue::Object::create(type, 0);
        };
        root = torch::jit::readArchiveAndTensors("data", "", "", resolver, loader, at::kCPU, reader);
    } catch (const c10::Error& e) {
        throw ModelLoadError(name + ": not a readable PyTorch checkpoint (" + e.what_without_backtrace() + ")");
    } catch (const std::exception& e) {
        throw ModelLoadError(name + ": not a readable PyTorch checkpoint (" + e.what() + ")");
    }
    if (root.isGenericDict()) {
        for (const auto& item : root.toGenericDict()) {
            if (item.key().isString() && item.key().toStringRef() == "state_dict" && item.value().isGenericDict()) {
                root = item.value();
                break;
            }
        }
    }
    std::map<std::string, at::Tensor> tensors;
    flatten(root, "", tensors);
    if (tensors.empty())
        throw ModelLoadError(name + ": PyTorch checkpoint holds no tensors (expected a dict of weights)");
    return tensors;
}

}  // namespace ips::io
