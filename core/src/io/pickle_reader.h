#pragma once
// A reader for the pickle programs torch.save writes (data.pkl inside its zip archive). It builds plain
// values and tensor references and never executes anything: known globals (tensor rebuild functions,
// collections.OrderedDict) are interpreted, every other class becomes an opaque placeholder. LibTorch's
// own unpickler cannot be used here: it turns collections.OrderedDict into None, which is how every
// model.state_dict() is saved. Torch-free, so it can be fuzzed on its own.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ips::io {

struct PickleValue;
// Values link to each other through plain pointers into their document's arena, so a hostile program
// that makes a container hold itself cannot leak or loop forever on destruction.
using PickleValuePtr = PickleValue*;

// torch.save's persistent id of a storage: ('storage', torch.FloatStorage, key, location, numel).
struct PickledStorage {
    std::string storage_type;  // "FloatStorage", "HalfStorage", ...
    std::string key;           // record "data/<key>" in the archive
    std::int64_t numel = 0;
};

// torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...).
struct PickledTensor {
    PickledStorage storage;
    std::int64_t storage_offset = 0;
    std::vector<std::int64_t> size;
    std::vector<std::int64_t> stride;
};

struct PickleValue {
    enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Storage, Tensor, Opaque };
    Kind kind = Kind::None;
    std::int64_t integer = 0;  // Int, Bool
    double number = 0;         // Float
    std::string text;          // String, Bytes, Global ("module.name"), Opaque (class name)
    std::vector<PickleValuePtr> items;                               // Tuple, List
    std::vector<std::pair<PickleValuePtr, PickleValuePtr>> entries;  // Dict, in insertion order
    PickledStorage storage;                                          // Storage
    PickledTensor tensor;                                            // Tensor
};

struct PickleDocument {
    std::vector<std::unique_ptr<PickleValue>> arena;  // owns every value
    const PickleValue* root = nullptr;
};

// Throws ModelLoadError naming `file_name` when the program is malformed, truncated or uses an opcode
// torch.save never writes.
PickleDocument read_torch_pickle(const std::uint8_t* data, std::size_t size, const std::string& file_name);

}  // namespace ips::io
