"""The tail every pipeline-golden script shares: finalize.py over runs A / B / F64, then the data kept small.

Drops the float outputs named in `drop_outputs` (their measured tolerances stay in checks.dropped_outputs; the
PNGs are kept and checked with png_atol), removes stored tensors no input or output refers to, and makes
fixtures_root ".." (the cases live in a folder of tests/data)."""
import json
import os
import subprocess
import sys

import common as C


def finalize_and_slim(a, title, generated_by, drop_outputs):
    from safetensors.numpy import load_file, save_file

    subprocess.check_call([sys.executable, os.path.join(C.HERE, "finalize.py"), "--a", a.a, "--b", a.b,
                           "--f64", a.f64, "--dest", a.dest, "--title", title])
    mpath = os.path.join(a.dest, "manifest.json")
    man = json.load(open(mpath))
    man["fixtures_root"] = ".."
    man["generated_by"] = generated_by
    for c in man["cases"]:
        dropped = {k: c["outputs"].pop(k) for k in drop_outputs if k in c["outputs"]}
        if dropped:
            c.setdefault("checks", {})["dropped_outputs"] = {
                "note": "measured but not stored (size); the PNGs of 'image' are stored and checked with png_atol",
                **dropped}
        keep = {m["key"] for m in list(c["inputs"].values()) + list(c["outputs"].values()) if "key" in m}
        f = os.path.join(a.dest, c["file"])
        t = load_file(f)
        save_file({k: v for k, v in t.items() if k in keep}, f, metadata={"format": "pt", "case": c["id"]})
    with open(mpath, "w") as fh:
        json.dump(man, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(a.dest) for n in ns)
    print("slimmed:", a.dest, total / 1e6, "MB")
