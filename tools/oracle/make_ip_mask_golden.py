"""IP-Adapter attention-mask goldens: diffusers' `cross_attention_kwargs={"ip_adapter_masks": masks}`.

Usage (after `. ./env.sh`, this file beside common.py / make_golden.py / make_models.py / finalize.py):
  $PY make_ip_mask_golden.py --make-masks DATA/images                  # the mask PNGs (8-bit gray, 0/255)
  $PY make_ip_mask_golden.py --masks DATA/images --out RUN_A --threads 1
  $PY make_ip_mask_golden.py --masks DATA/images --out RUN_B --threads 2
  $PY make_ip_mask_golden.py --masks DATA/images --out RUN_F64 --threads 1 --dtype float64
  $PY make_ip_mask_golden.py --finalize --a RUN_A --b RUN_B --f64 RUN_F64 --dest DATA/golden_masks

Every case goes through make_golden.run_pipeline (same request description, noise recording and outputs). The
masks come from diffusers.image_processor.IPAdapterMaskProcessor().preprocess(PIL masks, height=H, width=W)
(resize lanczos to the output size, grayscale, binarize >= 0.5), reshaped per adapter to [1, num_images, H, W]
as diffusers' docs do, and are passed with every pipeline call as cross_attention_kwargs["ip_adapter_masks"]
(a list, one tensor per adapter). The per-adapter scales are set as one list per adapter with one value per
image (pipe.set_ip_adapter_scale([[s] * num_images, ...]), the form of diffusers' masking docs; the spec keeps
the scalar `scale`). With masks, IPAdapterAttnProcessor2_0 attends to each reference image separately
(softmax over that image's tokens only) and adds scale[i] * attention_i * downsample(mask_i) per image, where
IPAdapterMaskProcessor.downsample resizes the mask bicubically to mask_h x mask_w (mask_h = int(sqrt(Q / (W/H))),
+1 when it does not divide Q; mask_w = Q // mask_h), flattens it row-major and zero-pads (or crops) it to the
layer's Q query tokens.

Spec additions (the C++ harness reads them):
- params.ip[a].masks: the mask PNG names (tests/data/images/), one per reference image, same order as images;
- inputs ip_mask_{a}_{k}: {"path": "images/<mask png>"};
- outputs ip_mask_{a}: the preprocessed masks [1, num_images, H, W] (what the attention processors receive);
- outputs ip_mask_down_{a}_q{Q}: IPAdapterMaskProcessor.downsample(mask_i, 1, Q, 1) for every distinct query
  count Q of the run, as [num_images, Q] (checks.mask_downsample lists Q, the token grid, mask_h, mask_w, pad).
--finalize runs finalize.py, then keeps the data small as make_pipeline_wide_golden.py does (the float `image` /
`decoded_sample` dropped, their measured tolerances in checks.dropped_outputs; PNGs kept with png_atol), and
fixtures_root becomes ".." (tests/data).
"""
import argparse
import copy
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402  (first: hf_compat patches)
import make_golden as MG  # noqa: E402
import slim_golden  # noqa: E402

CUR = {}  # the spec being run (read by load_pipe / save_case below)
MASK_DIR = None
STATE = {}  # per case: the mask tensors passed, the query counts seen, extra checks
P_CUBE = MG.P_CUBE


# ------------------------------------------------------------------------------------------------
# mask PNGs
# ------------------------------------------------------------------------------------------------
def mask_array(kind, w, h):
    a = np.zeros((h, w), np.uint8)
    if kind == "left":
        a[:, : w // 2] = 255
    elif kind == "right":
        a[:, w // 2:] = 255
    elif kind == "top":
        a[: h // 2, :] = 255
    elif kind == "bottom":
        a[h // 2:, :] = 255
    elif kind == "ones":
        a[:] = 255
    else:
        raise ValueError(kind)
    return a


def mask_name(kind, w, h):
    return f"ipmask_{kind}_{w}x{h}.png"


def all_masks():
    out = set()
    for spec in CASES:
        for a in spec["ip"]:
            for n in a["masks"]:
                out.add(n)
    return sorted(out)


def parse_mask_name(n):
    stem = n[len("ipmask_"):-len(".png")]
    kind, size = stem.rsplit("_", 1)
    w, h = (int(x) for x in size.split("x"))
    return kind, w, h


def make_masks(out_dir):
    from PIL import Image

    os.makedirs(out_dir, exist_ok=True)
    for n in all_masks():
        kind, w, h = parse_mask_name(n)
        a = mask_array(kind, w, h)
        path = os.path.join(out_dir, n)
        if os.path.exists(path):
            old = np.asarray(Image.open(path))
            if old.shape != a.shape or not np.array_equal(old, a):
                raise SystemExit(f"{path} exists with other content; not overwriting")
            print("same content, kept:", path)
            continue
        Image.fromarray(a, mode="L").save(path)
        print("wrote", path)


def load_masks(spec):
    """IPAdapterMaskProcessor().preprocess per adapter -> [1, num_images, H, W] (float32)."""
    from diffusers.image_processor import IPAdapterMaskProcessor
    from PIL import Image

    H, W = spec.get("height", 128), spec.get("width", 128)
    proc = IPAdapterMaskProcessor()
    masks = []
    for a in spec["ip"]:
        pil = [Image.open(os.path.join(MASK_DIR, n)) for n in a["masks"]]
        m = proc.preprocess(pil, height=H, width=W)  # [num_images, 1, H, W]
        masks.append(m.reshape(1, m.shape[0], m.shape[2], m.shape[3]))
    return masks


# ------------------------------------------------------------------------------------------------
# pipeline hooks
# ------------------------------------------------------------------------------------------------
def mask_hw(q, h, w):
    """IPAdapterMaskProcessor.downsample's grid for q queries and an h x w mask."""
    ratio = w / h
    mh = int(math.sqrt(q / ratio))
    mh = int(mh) + int((q % int(mh)) != 0)
    return mh, q // mh


def install_downsample_probe():
    import diffusers.models.attention_processor as AP

    orig = AP.IPAdapterMaskProcessor.downsample

    def probe(mask, batch_size, num_queries, value_embed_dim):
        if STATE.get("probe", True):
            STATE.setdefault("queries", set()).add(int(num_queries))
        return orig(mask, batch_size, num_queries, value_embed_dim)

    AP.IPAdapterMaskProcessor.downsample = staticmethod(probe)
    return orig


def load_pipe(cls_name="StableDiffusionPipeline", controlnet=False):
    """make_golden.load_pipe, plus the masks (cross_attention_kwargs) and per-image scale lists of CUR."""
    import diffusers

    assert not controlnet
    cls = getattr(diffusers, cls_name)
    pipe = cls.from_pretrained(C.SD_DIR, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(dtype=MG.DT)
    masks = [MG.cast(m) for m in load_masks(CUR)]
    STATE["masks"] = masks
    per_image = [[a["scale"]] * len(a["images"]) for a in CUR["ip"]]

    def set_ip_adapter_scale(self, scale):
        # run_pipeline passes one scalar per adapter; with masks, diffusers' docs give one value per image
        assert list(scale) == [a["scale"] for a in CUR["ip"]], scale
        cls.set_ip_adapter_scale(self, per_image)

    def call(self, *a, **k):
        checks = CUR.get("extra_checks", ())
        if checks:
            STATE["probe"] = False
            base = {n: v for n, v in k.items() if not n.startswith("callback_on_step_end")}
            base["output_type"] = "latent"
            base["latents"] = k["latents"].clone()
            if "no_mask" in checks:  # the concatenated path: all images' tokens in one softmax, scalar scales
                cls.set_ip_adapter_scale(self, [s["scale"] for s in CUR["ip"]])
                STATE["no_mask_latents"] = cls.__call__(self, *a, **base).images
                cls.set_ip_adapter_scale(self, per_image)
            if "scalar_scale" in checks:  # masks with scalar scales (the processor expands them per image)
                cls.set_ip_adapter_scale(self, [s["scale"] for s in CUR["ip"]])
                STATE["scalar_scale_latents"] = cls.__call__(
                    self, *a, cross_attention_kwargs={"ip_adapter_masks": masks}, **base).images
                cls.set_ip_adapter_scale(self, per_image)
            STATE["probe"] = True
        k["cross_attention_kwargs"] = {"ip_adapter_masks": masks}
        return cls.__call__(self, *a, **k)

    pipe.__class__ = type(cls.__name__, (cls,), {"__call__": call, "set_ip_adapter_scale": set_ip_adapter_scale})
    return pipe


MG.load_pipe = load_pipe
_save_case = MG.save_case


def save_case(case, out_dir):
    """make_golden.save_case, plus the mask inputs / outputs and checks of CUR."""
    from diffusers.image_processor import IPAdapterMaskProcessor

    H, W = CUR.get("height", 128), CUR.get("width", 128)
    ds_info = []
    for a, spec_a in enumerate(CUR["ip"]):
        for k, n in enumerate(spec_a["masks"]):
            case.file(f"ip_mask_{a}_{k}", "images/" + n)
        m = STATE["masks"][a]
        case.out(f"ip_mask_{a}", m, "IPAdapterMaskProcessor().preprocess(masks, height, width) reshaped to "
                                    "[1, num_images, H, W]: cross_attention_kwargs['ip_adapter_masks'][a]")
        for q in sorted(STATE["queries"], reverse=True):
            d = torch.stack([IPAdapterMaskProcessor.downsample(m[:, i], 1, q, 1)[0, :, 0] for i in range(m.shape[1])])
            case.out(f"ip_mask_down_{a}_q{q}", d, f"IPAdapterMaskProcessor.downsample(mask_i, 1, {q}, 1) per image "
                                                  "(bicubic to mask_h x mask_w, row-major, zero-padded to Q)")
    for q in sorted(STATE["queries"], reverse=True):
        mh, mw = mask_hw(q, H, W)
        grid = [g for g in STATE["grids"] if g[0] * g[1] == q]
        ds_info.append({"Q": q, "token_grid_hw": list(grid[0]) if grid else None, "mask_h": mh, "mask_w": mw,
                        "pad": q - mh * mw if mh * mw < q else 0, "crop": mh * mw - q if mh * mw > q else 0})
    case.checks["mask_downsample"] = ds_info
    case.params["ip_scale_set_as"] = [[a["scale"]] * len(a["images"]) for a in CUR["ip"]]
    lat = case.outputs["latents_final"]
    if "no_mask_latents" in STATE:
        case.checks["max_abs_latents_final_vs_no_mask"] = float((STATE["no_mask_latents"].double()
                                                                 - lat.double()).abs().max())
        case.checks["no_mask_note"] = ("the same request without ip_adapter_masks (all images' tokens in one "
                                       "softmax, scalar scale): latents_final differs by this much")
    if "scalar_scale_latents" in STATE:
        case.checks["max_abs_latents_final_scalar_vs_list_scale"] = float(
            (STATE["scalar_scale_latents"].double() - lat.double()).abs().max())
    _save_case(case, out_dir)


MG.save_case = save_case


def attention_grids(h, w, levels=4):
    """Token grids of the tiny UNet's attention levels (latents, /2, /4 and the mid block at /8; the
    downsamplers are stride-2 3x3 convs with padding 1: ceil)."""
    out, lh, lw = [], h // 8, w // 8
    for _ in range(levels):
        out.append((lh, lw))
        lh, lw = (lh + 1) // 2, (lw + 1) // 2
    return out


def nonsquare_note(h, w):
    parts = []
    for gh, gw in attention_grids(h, w):
        q = gh * gw
        mh, mw = mask_hw(q, h, w)
        how = "exact" if mh * mw == q else (f"pad {q - mh * mw}" if mh * mw < q else f"crop {mh * mw - q}")
        parts.append(f"Q={q} ({gh}x{gw} tokens) -> mask {mh}x{mw} ({how})")
    return "; ".join(parts)


IM1, IM2 = "shapes_100x75.png", "portrait_48x80.png"
NS_H, NS_W = 256, 72
CASES = [
    dict(id="mask_base_two_images",
         description="IP-Adapter base with two reference images and attention masks (left half / right half, "
                     "128x128): cross_attention_kwargs ip_adapter_masks=[mask [1,2,128,128]], scale 0.8 per image "
                     "(set_ip_adapter_scale([[0.8, 0.8]])). Each image is attended separately and added with "
                     "scale * downsample(mask). Text + image, DDIM 6.",
         prompt=P_CUBE, steps=6, latent_seed=1201,
         ip=[dict(adapter="base", images=[IM1, IM2], scale=0.8,
                  masks=[mask_name("left", 128, 128), mask_name("right", 128, 128)])],
         extra_checks=("scalar_scale",)),
    dict(id="mask_two_adapters",
         description="two IP-Adapters, one image and one mask each: base (mask top half) 0.7 + plus (mask bottom "
                     "half) 0.6; ip_adapter_masks=[[1,1,128,128], [1,1,128,128]], "
                     "set_ip_adapter_scale([[0.7], [0.6]]). Text + images, DDIM 6.",
         prompt=P_CUBE, steps=6, latent_seed=1202,
         ip=[dict(adapter="base", images=[IM1], scale=0.7, masks=[mask_name("top", 128, 128)]),
             dict(adapter="plus", images=[IM2], scale=0.6, masks=[mask_name("bottom", 128, 128)])]),
    dict(id="mask_nonsquare",
         description=f"IP-Adapter base, two images, masks left / right half at {NS_W}x{NS_H} (width x height; "
                     f"latents {NS_H // 8}x{NS_W // 8}, upsample sizes forwarded), scale 0.8 per image. Per "
                     "attention layer IPAdapterMaskProcessor.downsample resizes the mask bicubically to "
                     "mask_h x mask_w and zero-pads to Q where mask_h * mask_w < Q: "
                     + nonsquare_note(NS_H, NS_W) + ". DDIM 6.",
         prompt=P_CUBE, steps=6, latent_seed=1203, height=NS_H, width=NS_W,
         ip=[dict(adapter="base", images=[IM1, IM2], scale=0.8,
                  masks=[mask_name("left", NS_W, NS_H), mask_name("right", NS_W, NS_H)])]),
    dict(id="mask_all_ones",
         description="IP-Adapter base, two images, both masks all white (128x128), scale 0.6 per image: with masks "
                     "each image is attended separately (own softmax) and the results summed, which differs from "
                     "the no-mask path (8 tokens in one softmax); checks.max_abs_latents_final_vs_no_mask gives "
                     "diffusers' difference for the same request without masks. DDIM 6.",
         prompt=P_CUBE, steps=6, latent_seed=1204,
         ip=[dict(adapter="base", images=[IM1, IM2], scale=0.6,
                  masks=[mask_name("ones", 128, 128), mask_name("ones", 128, 128)])],
         extra_checks=("no_mask",)),
]
PRIVATE_KEYS = ("extra_checks",)


def run_cases(only):
    install_downsample_probe()
    for spec in CASES:
        if only and spec["id"] not in only:
            continue
        CUR.clear()
        CUR.update(spec)
        STATE.clear()
        STATE["queries"] = set()
        STATE["grids"] = attention_grids(spec.get("height", 128), spec.get("width", 128))
        public = {k: v for k, v in copy.deepcopy(spec).items() if k not in PRIVATE_KEYS}
        MG.run_pipeline(public)
        entry = MG.CASES[-1]
        assert entry["id"] == spec["id"]
        print("   ", entry["id"], "downsample:", entry["checks"]["mask_downsample"],
              {k: v for k, v in entry["checks"].items() if k.startswith("max_abs")}, flush=True)


DROP_OUTPUTS = ("image", "decoded_sample")


def finalize(a):
    slim_golden.finalize_and_slim(a, "IP-Adapter attention-mask goldens (make_ip_mask_golden.py)", "tools/oracle/make_ip_mask_golden.py + finalize.py (see tools/oracle/README.md)", DROP_OUTPUTS)


def main():
    global MASK_DIR
    ap = argparse.ArgumentParser()
    ap.add_argument("--make-masks")
    ap.add_argument("--masks")
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--only", default=None, help="comma list of case ids (debug)")
    ap.add_argument("--finalize", action="store_true")
    ap.add_argument("--a")
    ap.add_argument("--b")
    ap.add_argument("--f64")
    ap.add_argument("--dest")
    args = ap.parse_args()
    if args.make_masks:
        make_masks(args.make_masks)
        return
    if args.finalize:
        finalize(args)
        return
    MASK_DIR = args.masks
    MG.ARGS = argparse.Namespace(out=args.out)
    MG.DT = getattr(torch, args.dtype)
    if args.threads:
        torch.set_num_threads(args.threads)
    if MG.DT == torch.float64:
        torch.set_default_dtype(torch.float64)  # as make_golden.py (transformers' causal mask)
    os.makedirs(args.out, exist_ok=True)
    run_cases(set(args.only.split(",")) if args.only else None)
    run = {"set": "ip_masks", "dtype": args.dtype, "environment": C.env_info(), "cases": MG.CASES}
    C.write_json(os.path.join(args.out, "run.json"), run)
    print("wrote", len(MG.CASES), "cases to", args.out)


if __name__ == "__main__":
    main()
