#!/usr/bin/env python3
"""Writes small torch.save-format checkpoints for the loader tests, without needing torch installed.

torch.save's zip layout: <name>/data.pkl (pickle protocol 2 whose tensors are
torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks) with the
storage as a persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)), <name>/data/<key> (raw
little-endian bytes), <name>/version. Run: python3 tools/make_checkpoint_fixtures.py tests/data/checkpoints
"""
import collections
import io
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path

# Stand-ins registered under torch's module names so pickle records the same globals torch.save does.
torch_mod = types.ModuleType("torch")
utils_mod = types.ModuleType("torch._utils")
sys.modules["torch"] = torch_mod
sys.modules["torch._utils"] = utils_mod


def _rebuild_tensor_v2(*args):
    raise NotImplementedError


_rebuild_tensor_v2.__module__ = "torch._utils"
utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
for storage in ("FloatStorage", "HalfStorage", "LongStorage"):
    cls = type(storage, (), {"__module__": "torch"})
    setattr(torch_mod, storage, cls)

# A training framework's callback object, as Lightning pickles into its .ckpt files (NEWOBJ + BUILD).
for package in ("pytorch_lightning", "pytorch_lightning.callbacks"):
    sys.modules[package] = types.ModuleType(package)
lightning_mod = types.ModuleType("pytorch_lightning.callbacks.model_checkpoint")
sys.modules["pytorch_lightning.callbacks.model_checkpoint"] = lightning_mod


class ModelCheckpoint:
    def __init__(self):
        self.monitor, self.best_model_score = "val_loss", 0.25


ModelCheckpoint.__module__ = lightning_mod.__name__
lightning_mod.ModelCheckpoint = ModelCheckpoint

FORMATS = {"FloatStorage": ("<f", 4), "HalfStorage": ("<e", 2), "LongStorage": ("<q", 8)}


class Tensor:
    """A tensor to save: flat values, a shape and the storage class torch would use."""

    def __init__(self, values, shape, storage="FloatStorage"):
        self.values, self.shape, self.storage = values, shape, storage


class StorageRef:
    """Stands for a tensor's storage inside the pickle; saved as a persistent id."""

    def __init__(self, tensor):
        self.tensor = tensor


def strides(shape):
    out, acc = [], 1
    for d in reversed(shape):
        out.insert(0, acc)
        acc *= d
    return tuple(out)


class Saver(pickle.Pickler):
    def __init__(self, f):
        super().__init__(f, protocol=2)
        self.records = []
        self.dispatch_table = {Tensor: lambda t: (_rebuild_tensor_v2, (StorageRef(t), 0, tuple(t.shape), strides(t.shape),
                                                                      False, collections.OrderedDict()))}

    def persistent_id(self, obj):
        if not isinstance(obj, StorageRef):
            return None
        t = obj.tensor
        key = str(len(self.records))
        fmt, _ = FORMATS[t.storage]
        self.records.append((key, b"".join(struct.pack(fmt, v) for v in t.values)))
        return ("storage", getattr(torch_mod, t.storage), key, "cpu", len(t.values))


def save(obj, path, archive):
    buf = io.BytesIO()
    saver = Saver(buf)
    saver.dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", buf.getvalue())
        for key, data in saver.records:
            z.writestr(f"{archive}/data/{key}", data)
        z.writestr(f"{archive}/version", "3\n")


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    # A Lightning-style .ckpt: weights under "state_dict", bookkeeping beside them.
    save({"epoch": 3, "global_step": 1234, "callbacks": {"ModelCheckpoint": ModelCheckpoint()},
          "state_dict": collections.OrderedDict([
              ("model.diffusion_model.conv.weight", Tensor([0, 1, 2, 3, 4, 5], [2, 3])),
              ("model.diffusion_model.conv.bias", Tensor([0.5, -0.5], [2], "HalfStorage"))])},
         out / "wrapped.ckpt", "wrapped")
    # Nested dicts as in the official IP-Adapter .bin, with a non-tensor leaf and an int64 tensor.
    save({"image_proj": {"proj": {"weight": Tensor([1, 2, 3, 4], [2, 2])}, "name": "not a tensor"},
          "ip_adapter": {"1.to_k_ip.weight": Tensor([7, 8], [1, 2]), "steps": Tensor([42], [1], "LongStorage")}},
         out / "nested.pt", "nested")
    # No tensors at all.
    save({"epoch": 3, "notes": ["a", "b"]}, out / "no_tensors.ckpt", "no_tensors")
