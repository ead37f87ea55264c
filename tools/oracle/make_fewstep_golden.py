"""Few-step pipeline goldens (issue 16): LCM and TCD through StableDiffusionPipeline as LCM-LoRA / TCD-SD15 users
run them (LCMScheduler 4 steps at guidance 1 with an IP-Adapter: no CFG batch, fresh noise between steps; TCD 4 steps
at guidance 0 with eta 0.3), LCM img2img as StableDiffusionImg2ImgPipeline does it, and "trailing" timestep spacing
(Hyper-SD's setting) on Euler at CFG 3.5 and DDIM at guidance 0.

Usage (after `. ./env.sh`, this file beside common.py / make_golden.py / finalize.py / slim_golden.py /
make_pipeline_wide_golden.py):
  $PY make_fewstep_golden.py --out RUN_A
  $PY make_fewstep_golden.py --out RUN_B --threads 1
  $PY make_fewstep_golden.py --out RUN_F64 --threads 1 --dtype float64
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

P = MG.P_CUBE
IP_BASE = [dict(adapter="base", images=["shapes_100x75.png"], scale=0.6)]
FEW = [
    dict(id="few_lcm4_ip_base",
         description="LCMScheduler 4 steps at guidance 1.0 (no CFG batch: do_classifier_free_guidance is False), "
                     "IP-Adapter base 0.6 + text, latents given; LCM's step draws fresh noise from the generator "
                     "between steps (recorded as input.noise_XX).",
         scheduler="lcm", prompt=P, steps=4, guidance=1.0, latent_seed=1201, gen_seed=2201, ip=IP_BASE),
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
]

DROP_OUTPUTS = ("image", "decoded_sample", "init_image_preprocessed", "mask_preprocessed")


def main():
    ap = argparse.ArgumentParser()
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
    if args.finalize:
        slim_golden.finalize_and_slim(args, "Few-step pipeline goldens (make_fewstep_golden.py)",
                                      "tools/oracle/make_fewstep_golden.py + finalize.py (see tools/oracle/README.md)",
                                      DROP_OUTPUTS)
        return
    W.WIDE = FEW
    MG.ARGS = argparse.Namespace(out=args.out)
    MG.DT = getattr(torch, args.dtype)
    if args.threads:
        torch.set_num_threads(args.threads)
    if MG.DT == torch.float64:
        torch.set_default_dtype(torch.float64)  # as make_golden.py (transformers' causal mask)
    os.makedirs(args.out, exist_ok=True)
    W.run_cases(set(args.only.split(",")) if args.only else None)
    run = {"set": "pipeline_fewstep", "dtype": args.dtype, "environment": C.env_info(), "cases": MG.CASES}
    C.write_json(os.path.join(args.out, "run.json"), run)
    print("wrote", len(MG.CASES), "cases to", args.out)


if __name__ == "__main__":
    main()
