"""Few-step pipeline goldens (issue 16): LCM and TCD through StableDiffusionPipeline as LCM-LoRA / TCD-SD15 users
run them (LCMScheduler 4 steps at guidance 1 with an IP-Adapter: no CFG batch, fresh noise between steps; TCD 4 steps
at guidance 0 with eta 0.3), LCM img2img as StableDiffusionImg2ImgPipeline does it, and "trailing" timestep spacing
(Hyper-SD's setting) on Euler at CFG 3.5 and DDIM at guidance 0.

A full Latent Consistency Model UNet (time_cond_proj_dim: the guidance goes in as an embedding, one pass per step,
no negative prompt) runs through LatentConsistencyModelPipeline.

Usage (after `. ./env.sh`, this file beside common.py / make_golden.py / finalize.py / slim_golden.py /
make_pipeline_wide_golden.py):
  $PY make_fewstep_golden.py --make-lcm-unet DATA/tiny-lcm-unet    # tiny-sd15's UNet settings, two levels, time_cond_proj_dim 32 (seeded)
  $PY make_fewstep_golden.py --lcm-unet DATA/tiny-lcm-unet --lora-dir DATA/lora --out RUN_A
  $PY make_fewstep_golden.py --lcm-unet DATA/tiny-lcm-unet --lora-dir DATA/lora --out RUN_B --threads 1
  $PY make_fewstep_golden.py --lcm-unet DATA/tiny-lcm-unet --lora-dir DATA/lora --out RUN_F64 --threads 1 --dtype float64
  $PY make_fewstep_golden.py --finalize --a RUN_A --b RUN_B --f64 RUN_F64 --dest DATA/golden_fewstep

Every case goes through make_golden.run_pipeline (via make_pipeline_wide_golden's call_extra); this script adds
the schedulers make_golden does not name (lcm, tcd) and a `timestep_spacing` override of the model's config.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402  (first: hf_compat patches)
import make_golden as MG  # noqa: E402
import make_pipeline_wide_golden as W  # noqa: E402
import slim_golden  # noqa: E402

MG.SCHEDULERS["lcm"] = ("LCMScheduler", {})
MG.SCHEDULERS["tcd"] = ("TCDScheduler", {})
_make_scheduler = MG.make_scheduler


def make_scheduler(name, base_config):
    """make_golden.make_scheduler with the case's timestep_spacing (when it names one) replacing the config's."""
    s = _make_scheduler(name, base_config)
    spacing = W.CUR.get("timestep_spacing")
    if spacing:
        s = s.__class__.from_config(s.config, timestep_spacing=spacing)
    return s


MG.make_scheduler = make_scheduler
LCM_UNET_DIR = None
LORA_DIR = None  # tests/data/lora (--lora-dir): the LoRA files the cases name


def make_lcm_unet(out_dir):
    from diffusers import UNet2DConditionModel

    import make_models as MM

    kw = dict(MM.UNET_KW)
    kw.update({k: v for k, v in W.INPAINT_UNET_CHANGES.items() if k != "in_channels"})  # two levels: a small file
    kw["time_cond_proj_dim"] = 32
    # 8 groups of 4 channels: with tiny-sd15's 32 groups of one channel, GroupNorm removes the per-channel offset the
    # time embedding adds, and a UNet ignoring its guidance embedding would pass unnoticed.
    kw["norm_num_groups"] = 8
    C.seed_all(1301)
    m = UNet2DConditionModel(**kw).eval()
    counts = C.nontrivialize(m, 2301)
    C.assert_no_constant_params(m, "lcm unet")
    m.save_pretrained(out_dir, safe_serialization=True)
    print("LCM UNet:", sum(p.numel() for p in m.parameters()), "parameters; nontrivialize", counts, "->", out_dir)


_load_pipe = W.load_pipe


def load_pipe(cls_name="StableDiffusionPipeline", controlnet=False):
    """make_pipeline_wide_golden.load_pipe, or for `lcm_unet` cases LatentConsistencyModelPipeline with that UNet
    (its __call__ takes no negative_prompt: run_pipeline's None is dropped)."""
    if not W.CUR.get("lcm_unet"):
        pipe = _load_pipe(cls_name, controlnet)
        lora = W.CUR.get("lora")
        if lora:  # an LCM-LoRA user's pipeline: the LoRA fused into the weights, then unloaded (the fused weights stay)
            pipe.load_lora_weights(LORA_DIR, weight_name=os.path.basename(lora["file"]), adapter_name="a")
            pipe = pipe.to(dtype=MG.DT)
            pipe.fuse_lora(lora_scale=lora["scale"])
            pipe.unload_lora_weights()
        return pipe
    import diffusers

    unet = diffusers.UNet2DConditionModel.from_pretrained(LCM_UNET_DIR)
    cls = diffusers.LatentConsistencyModelPipeline
    pipe = cls.from_pretrained(C.SD_DIR, unet=unet, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(dtype=MG.DT)

    def call(self, *a, **k):
        assert k.pop("negative_prompt", None) is None
        return cls.__call__(self, *a, **k)

    pipe.__class__ = type(cls.__name__, (cls,), {"__call__": call})
    return pipe


MG.load_pipe = load_pipe
W.PRIVATE_KEYS = W.PRIVATE_KEYS + ("lcm_unet",)

P = MG.P_CUBE
IP_BASE = [dict(adapter="base", images=["shapes_100x75.png"], scale=0.6)]
FEW = [
    dict(id="few_lcm4_ip_base",
         description="LCMScheduler 4 steps at guidance 1.0 (no CFG batch: do_classifier_free_guidance is False), "
                     "IP-Adapter base 0.6 + text, latents given; LCM's step draws fresh noise from the generator "
                     "between steps (recorded as input.noise_XX).",
         scheduler="lcm", prompt=P, steps=4, guidance=1.0, latent_seed=1201, gen_seed=2201, ip=IP_BASE),
    dict(id="few_lcm4_lora_ip_base",
         description="An LCM-LoRA user's pipeline: a LoRA (tests/data/lora/kohya_alpha) fused into the weights with "
                     "load_lora_weights + fuse_lora(lora_scale=1.0) + unload_lora_weights, LCMScheduler 4 steps at "
                     "guidance 1.0 (no CFG batch), IP-Adapter base 0.6 + text, latents given, LCM's step noise "
                     "recorded.",
         scheduler="lcm", prompt=P, steps=4, guidance=1.0, latent_seed=1207, gen_seed=2207, ip=IP_BASE,
         lora=dict(file="lora/kohya_alpha.safetensors", scale=1.0)),
    dict(id="few_tcd4_g0",
         description="TCDScheduler 4 steps at guidance 0.0 with eta (gamma) 0.3, text only; TCD's step draws noise "
                     "from the generator (recorded).",
         scheduler="tcd", prompt=P, steps=4, guidance=0.0, eta=0.3, latent_seed=1202, gen_seed=2202,
         call_extra={"eta": 0.3}),
    dict(id="few_lcm4_img2img",
         description="StableDiffusionImg2ImgPipeline with LCMScheduler, 4 steps, strength 0.5 (get_timesteps: the last "
                     "2 of the 4 run), guidance 1.0; the VAE sample, add_noise noise and LCM's step noise all from "
                     "the generator (recorded).",
         mode="img2img", scheduler="lcm", prompt=P, steps=4, guidance=1.0, strength=0.5,
         init_image="scene_128x128.png", gen_seed=2203),
    dict(id="few_euler_trailing8_cfg35",
         description="EulerDiscreteScheduler with timestep_spacing 'trailing', 8 steps, CFG 3.5 (Krita's Hyper-SD "
                     "8-step CFG setting), IP-Adapter base 0.6 + text.",
         scheduler="euler", timestep_spacing="trailing", prompt=P, steps=8, guidance=3.5, latent_seed=1204, ip=IP_BASE),
    dict(id="few_ddim_trailing4_g0",
         description="DDIMScheduler with timestep_spacing 'trailing', 4 steps, guidance 0.0 (Hyper-SD's 1/2/4-step "
                     "LoRAs), text only.",
         scheduler="ddim", timestep_spacing="trailing", prompt=P, steps=4, guidance=0.0, latent_seed=1205),
    dict(id="few_lcm_unet4",
         description="A full LCM UNet (tiny-lcm-unet: tiny-sd15's UNet settings on two levels, with time_cond_proj_dim 32) through "
                     "LatentConsistencyModelPipeline, 4 steps, guidance 8.0 given as get_guidance_scale_embedding("
                     "w = 7.0) to the UNet's timestep_cond, one pass per step, text only (the tiny IP-Adapters are made for the "
                     "16 attention layers of the four-level UNet); LCM's step noise from the generator (recorded).",
         lcm_unet=True, scheduler="lcm", prompt=P, steps=4, guidance=8.0, latent_seed=1206, gen_seed=2206),
]

DROP_OUTPUTS = ("image", "decoded_sample", "init_image_preprocessed", "mask_preprocessed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--make-lcm-unet")
    ap.add_argument("--lcm-unet")
    ap.add_argument("--lora-dir", help="tests/data/lora: the LoRA files the cases name")
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
    if args.make_lcm_unet:
        make_lcm_unet(args.make_lcm_unet)
        return
    if args.finalize:
        slim_golden.finalize_and_slim(args, "Few-step pipeline goldens (make_fewstep_golden.py)",
                                      "tools/oracle/make_fewstep_golden.py + finalize.py (see tools/oracle/README.md)",
                                      DROP_OUTPUTS)
        return
    global LCM_UNET_DIR, LORA_DIR
    LCM_UNET_DIR = args.lcm_unet
    LORA_DIR = args.lora_dir
    W.WIDE = FEW
    MG.ARGS = argparse.Namespace(out=args.out)
    MG.DT = getattr(torch, args.dtype)
    if args.threads:
        torch.set_num_threads(args.threads)
    if MG.DT == torch.float64:
        torch.set_default_dtype(torch.float64)  # as make_golden.py (transformers' causal mask)
    os.makedirs(args.out, exist_ok=True)
    W.run_cases(set(args.only.split(",")) if args.only else None)
    for entry in MG.CASES:
        if entry["id"].startswith("few_lcm_unet"):
            entry["models"]["unet"] = "tiny-lcm-unet"  # the test builds tiny-sd15 with this UNet
    run = {"set": "pipeline_fewstep", "dtype": args.dtype, "environment": C.env_info(), "cases": MG.CASES}
    C.write_json(os.path.join(args.out, "run.json"), run)
    print("wrote", len(MG.CASES), "cases to", args.out)


if __name__ == "__main__":
    main()
