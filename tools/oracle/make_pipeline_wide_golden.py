"""Wider pipeline goldens: 9-channel inpainting, img2img with Euler a / DPM++ 2M / LMS, DDIM with eta > 0, two
ControlNets with per-net guidance windows and scales, a non-square size and a batch of 2 (both with an IP-Adapter).

Usage (after `. ./env.sh`, this file beside common.py / make_golden.py / make_models.py / finalize.py):
  $PY make_pipeline_wide_golden.py --make-unet DATA/tiny-sd15-inpaint-unet     # the tiny 9-channel UNet (seeded)
  $PY make_pipeline_wide_golden.py --unet DATA/tiny-sd15-inpaint-unet --out RUN_A
  $PY make_pipeline_wide_golden.py --unet DATA/tiny-sd15-inpaint-unet --out RUN_B --threads 1
  $PY make_pipeline_wide_golden.py --unet DATA/tiny-sd15-inpaint-unet --out RUN_F64 --threads 1 --dtype float64
  $PY make_pipeline_wide_golden.py --finalize --a RUN_A --b RUN_B --f64 RUN_F64 --dest DATA/golden_wide

Every case goes through make_golden.run_pipeline (same request description, noise recording and outputs); this
script only widens what it can ask diffusers for:
- `unet`: the pipeline is built from tiny-sd15 with this UNet instead (the 9-channel inpainting UNet);
- `call_extra`: extra keyword arguments of the pipeline call (eta, several ControlNet images / scales /
  control_guidance_start / control_guidance_end, latents=None to let the generator draw them);
- `num_controlnets`: MultiControlNetModel of that many copies of tiny-controlnet.
--finalize runs finalize.py, then keeps the data small: the float `image` / `decoded_sample` and the
preprocessed inputs (covered by the shared goldens) are dropped from the case files (their measured tolerances
stay in checks.dropped_outputs; the PNGs are kept with png_atol), unused stored inputs are removed, and
fixtures_root becomes ".." (tests/data).
"""
import argparse
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402  (first: hf_compat patches)
import make_golden as MG  # noqa: E402
import slim_golden  # noqa: E402

CUR = {}  # the spec being run (read by load_pipe below)
UNET_DIR = None
P_CUBE = MG.P_CUBE

# The tiny inpainting UNet: tiny-sd15's UNet settings (cross_attention_dim 32, 8 heads, GroupNorm 32) with 9 input
# channels (latents, mask, masked-image latents) and two levels only, so the file stays about 1 MB.
INPAINT_UNET_CHANGES = dict(
    in_channels=9,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(32, 32),
    layers_per_block=1,
)


def make_inpaint_unet(out_dir):
    from diffusers import UNet2DConditionModel

    import make_models as MM

    kw = dict(MM.UNET_KW)
    kw.update(INPAINT_UNET_CHANGES)
    C.seed_all(1103)
    m = UNet2DConditionModel(**kw).eval()
    counts = C.nontrivialize(m, 2103)
    C.assert_no_constant_params(m, "inpaint unet")
    m.save_pretrained(out_dir, safe_serialization=True)
    print("inpainting UNet:", sum(p.numel() for p in m.parameters()), "parameters; nontrivialize", counts,
          "->", out_dir)


def load_pipe(cls_name="StableDiffusionPipeline", controlnet=False):
    """make_golden.load_pipe, plus CUR's unet / num_controlnets / call_extra."""
    import diffusers

    kw = {}
    if controlnet:
        n = CUR.get("num_controlnets", 1)
        nets = [diffusers.ControlNetModel.from_pretrained(C.CN_DIR) for _ in range(n)]
        kw["controlnet"] = nets if n > 1 else nets[0]
    if CUR.get("unet"):
        kw["unet"] = diffusers.UNet2DConditionModel.from_pretrained(UNET_DIR)
    cls = getattr(diffusers, cls_name)
    pipe = cls.from_pretrained(C.SD_DIR, safety_checker=None, requires_safety_checker=False, **kw)
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(dtype=MG.DT)
    extra = dict(CUR.get("call_extra", {}))
    if extra:
        def call(self, *a, **k):
            k.update({n: ([MG.img(i) for i in v] if n == "image" else v) for n, v in extra.items()})
            return cls.__call__(self, *a, **k)

        pipe.__class__ = type(cls.__name__, (cls,), {"__call__": call})
    return pipe


MG.load_pipe = load_pipe
_save_case = MG.save_case


def save_case(case, out_dir):
    """make_golden.save_case; run_pipeline records the whole schedule as `timesteps` except for img2img, so an
    inpainting case with strength < 1 keeps only the timesteps that ran (the last len(step_latents))."""
    t, s = case.outputs.get("timesteps"), case.outputs.get("step_latents")
    if t is not None and s is not None and len(t) > len(s):
        case.outputs["timesteps"] = t[-len(s):].contiguous()
    _save_case(case, out_dir)


MG.save_case = save_case

CN_EDGES, CN_LINES = "control_edges_128x128.png", "control_lines_256x128.png"
IP_BASE = [dict(adapter="base", images=["shapes_100x75.png"], scale=0.6)]
WIDE = [
    dict(id="wide_inpaint9_ddim",
         description="9-channel inpainting UNet (tiny-sd15-inpaint-unet: latents + mask + masked-image latents in) with "
                     "StableDiffusionInpaintPipeline, strength 1.0, latents= given, DDIM 6. No latent blend (9-channel "
                     "path); the masked image's VAE posterior sample is drawn from the generator (input.noise_00).",
         mode="inpaint", unet=True, prompt=P_CUBE, steps=6, latent_seed=1101, init_image="scene_128x128.png",
         mask_image="mask_128x128.png", gen_seed=2101),
    dict(id="wide_inpaint9_strength_euler_a",
         description="9-channel inpainting UNet, strength 0.7, Euler a 8 steps (5 run), latents=None: the generator "
                     "draws the init image's VAE sample, the noise (add_noise at the first timestep), the masked "
                     "image's VAE sample, then the ancestral noise of every step (all recorded, in order).",
         mode="inpaint", unet=True, scheduler="euler_a", prompt=P_CUBE, steps=8, strength=0.7, latent_seed=1102,
         init_image="scene_128x128.png", mask_image="mask_circle_128x128.png", gen_seed=2102,
         call_extra={"latents": None}),
    dict(id="wide_img2img_euler_a",
         description="img2img strength 0.6, Euler a 10 steps (6 run; set_begin_index), the VAE sample noise, the "
                     "add_noise noise and the ancestral noise of each step drawn from the generator (recorded).",
         mode="img2img", scheduler="euler_a", prompt=P_CUBE, steps=10, strength=0.6, init_image="scene_128x128.png",
         gen_seed=2103),
    dict(id="wide_img2img_dpmpp_2m",
         description="img2img strength 0.6, DPM++ 2M (dpmsolver++, order 2) 10 steps (6 run; set_begin_index).",
         mode="img2img", scheduler="dpmpp_2m", prompt=P_CUBE, steps=10, strength=0.6, init_image="scene_128x128.png",
         gen_seed=2104),
    dict(id="wide_img2img_lms",
         description="img2img strength 0.6, LMS (order 4 history) 10 steps (6 run; set_begin_index).",
         mode="img2img", scheduler="lms", prompt=P_CUBE, steps=10, strength=0.6, init_image="scene_128x128.png",
         gen_seed=2105),
    dict(id="wide_ddim_eta05",
         description="txt2img DDIM 6 steps with eta 0.5: each step adds std_dev_t * variance_noise, the noise drawn "
                     "from the generator (seed gen_seed; recorded in order as input.noise_XX).",
         prompt=P_CUBE, steps=6, latent_seed=1106, gen_seed=2106, eta=0.5, call_extra={"eta": 0.5}),
    dict(id="wide_two_controlnets",
         description="two ControlNets (tiny-controlnet twice, MultiControlNetModel) with their own images, "
                     "conditioning scales [0.8, 0.5] and guidance windows start [0.0, 0.5] / end [0.3, 1.0]: "
                     "net 0 acts on steps 0-2, net 1 on steps 5-9 of 10 (DDIM). The second image (256x128) is "
                     "resized to 128x128 by the control image processor.",
         mode="controlnet", prompt=P_CUBE, steps=10, latent_seed=1107, control_image=CN_EDGES, cn_scale=0.8,
         num_controlnets=2,
         controlnets=[dict(image=CN_EDGES, scale=0.8, start=0.0, end=0.3),
                      dict(image=CN_LINES, scale=0.5, start=0.5, end=1.0)],
         call_extra={"image": [CN_EDGES, CN_LINES], "controlnet_conditioning_scale": [0.8, 0.5],
                     "control_guidance_start": [0.0, 0.5], "control_guidance_end": [0.3, 1.0]}),
    dict(id="wide_nonsquare_ip",
         description="txt2img 128x160 (latents 16x20: 20 is no multiple of the UNet's 8x, so diffusers forwards "
                     "upsample sizes), IP-Adapter base 0.6 + text, DDIM 6.",
         prompt=P_CUBE, steps=6, latent_seed=1108, height=128, width=160, ip=IP_BASE),
    dict(id="wide_batch2_ip",
         description="num_images_per_prompt 2 (latents [2,4,16,16] given), IP-Adapter base 0.6 + text, DDIM 6.",
         prompt=P_CUBE, steps=6, latent_seed=1109, num_images_per_prompt=2, ip=IP_BASE),
]
PRIVATE_KEYS = ("unet", "call_extra", "num_controlnets")


def run_cases(only):
    for spec in WIDE:
        if only and spec["id"] not in only:
            continue
        CUR.clear()
        CUR.update(spec)
        public = {k: v for k, v in copy.deepcopy(spec).items() if k not in PRIVATE_KEYS}
        MG.run_pipeline(public)
        entry = MG.CASES[-1]
        assert entry["id"] == spec["id"]
        if spec.get("unet"):
            entry["models"]["unet"] = "tiny-sd15-inpaint-unet"
        if "call_extra" in spec:
            entry["params"]["call_extra"] = spec["call_extra"]
            if "latents" in spec["call_extra"]:
                entry["inputs"].pop("latents", None)  # not used: the generator drew them
        if spec.get("num_controlnets"):
            entry["models"]["controlnet"] = ["tiny-controlnet"] * spec["num_controlnets"]
            entry["inputs"].pop("control_image", None)  # run_pipeline's single-net fields (overridden by call_extra)
            entry["params"].pop("control_image", None)
            entry["params"].pop("cn_scale", None)
            for j, c in enumerate(spec["controlnets"]):
                entry["inputs"][f"control_image_{j}"] = {"path": "images/" + c["image"]}


DROP_OUTPUTS = ("image", "decoded_sample", "init_image_preprocessed", "mask_preprocessed")


def finalize(a):
    slim_golden.finalize_and_slim(a, "Wider pipeline goldens (make_pipeline_wide_golden.py)", "tools/oracle/make_pipeline_wide_golden.py + finalize.py (see tools/oracle/README.md)", DROP_OUTPUTS)


def main():
    global UNET_DIR
    ap = argparse.ArgumentParser()
    ap.add_argument("--make-unet")
    ap.add_argument("--unet")
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
    if args.make_unet:
        make_inpaint_unet(args.make_unet)
        return
    if args.finalize:
        finalize(args)
        return
    UNET_DIR = args.unet
    MG.ARGS = argparse.Namespace(out=args.out)
    MG.DT = getattr(torch, args.dtype)
    if args.threads:
        torch.set_num_threads(args.threads)
    if MG.DT == torch.float64:
        torch.set_default_dtype(torch.float64)  # as make_golden.py (transformers' causal mask)
    os.makedirs(args.out, exist_ok=True)
    run_cases(set(args.only.split(",")) if args.only else None)
    run = {"set": "pipeline_wide", "dtype": args.dtype, "environment": C.env_info(), "cases": MG.CASES}
    C.write_json(os.path.join(args.out, "run.json"), run)
    print("wrote", len(MG.CASES), "cases to", args.out)


if __name__ == "__main__":
    main()
