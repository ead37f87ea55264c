"""Golden trajectories of the few-step schedulers (diffusers 0.30): LCM, TCD, and the timestep_spacing
overrides ("trailing", "linspace", "leading") of DDIM / Euler / Euler a / DPM++ 2M, in the format of
make_golden.py's "sched" cases (same Case / save_case, same fixed model outputs, same seeds scheme).

Usage (after `. ./env.sh`, from the oracle folder; this file sits beside make_golden.py):
  $PY make_sched_golden.py --out /tmp/sched_a                       # float32, default threads
  $PY make_sched_golden.py --out /tmp/sched_b --threads 1           # float32 rerun
  $PY make_sched_golden.py --out /tmp/sched_f64 --dtype float64     # float64 (noise still drawn in float32)
  $PY make_sched_golden.py --finalize --a /tmp/sched_a --b /tmp/sched_b --f64 /tmp/sched_f64 \
      --dest <repo>/tests/data/golden
--finalize copies the case files into DEST/cases/ and appends (or replaces, by id) the cases in
DEST/manifest.json with tolerances computed as finalize.py does; the other entries are left untouched.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common as C  # noqa: E402,F401  (must come first: shims and diffusers patches)
import make_golden as G  # noqa: E402

LOOP_DOC = ("then a full trajectory on fixed inputs: x = x0 * init_noise_sigma; for each k: "
            "xin_k = scale_model_input(x, t_k); x = step(eps[k], t_k, x{extra}).prev_sample. eps[k] are fixed random "
            "'model outputs'{noise}.")


def base_config():
    from diffusers import PNDMScheduler

    return PNDMScheduler.from_pretrained(os.path.join(C.SD_DIR, "scheduler")).config


def make(cls_name, config, **kw):
    import diffusers

    return getattr(diffusers, cls_name).from_config(config, **kw)


def trajectory(case, s, x, eps, seed, record_module, step_kw, begin=0, extra_out=None):
    """Runs s.step over s.timesteps[begin:], feeding eps[k]; records scaled inputs, prev samples, the
    scheduler's second output (extra_out) and the noise drawn inside step() (generator `seed`)."""
    sg = C.gen(seed) if seed is not None else None
    xs, xins, seconds = [], [], []
    with C.record_randn() as rec:
        for k, t in enumerate(s.timesteps[begin:]):
            xin = s.scale_model_input(x, t)
            kw = dict(step_kw)
            if sg is not None:
                kw["generator"] = sg
            out = s.step(G.cast(eps[k]), t, x, **kw)
            x = out.prev_sample
            xins.append(xin)
            xs.append(x)
            if extra_out:
                seconds.append(getattr(out, extra_out))
    case.out("scaled_inputs", torch.stack(xins), "scale_model_input output per step")
    case.out("prev_samples", torch.stack(xs), "step() prev_sample per step")
    if extra_out:
        case.out(extra_out, torch.stack(seconds), f"step() {extra_out} per step")
    noise = [r[1] for r in rec if r[0] == record_module]
    if noise:
        case.inp("step_noise", torch.stack(noise),
                 f"noise drawn inside step() (generator seed {seed}), one per step but the last: feed it or seed "
                 "the generator")
    return x


def common_outputs(case, s):
    case.out("timesteps", s.timesteps)
    if getattr(s, "sigmas", None) is not None:
        case.out("sigmas", s.sigmas)
    case.out("alphas_cumprod", s.alphas_cumprod, "float32 [1000]")


def fixed_inputs(case, n, seed):
    g = C.gen(seed)
    x0 = torch.randn(1, 4, 8, 8, generator=g, dtype=torch.float32)
    eps = torch.randn(n, 1, 4, 8, 8, generator=g, dtype=torch.float32)
    case.inp("x0", x0)
    case.inp("eps", eps, f"[{n},1,4,8,8] model output fed at step k")
    return x0, eps


@torch.no_grad()
def case_consistency(base):
    # LCM and TCD on the SD1.5 config: LCMScheduler.from_config(pipe.scheduler.config) as the LCM-LoRA docs do.
    for name, cls_name, step_kw, extra, module in (
            ("lcm", "LCMScheduler", {}, "denoised", "scheduling_lcm"),
            ("tcd", "TCDScheduler", {"eta": 0.3}, "pred_noised_sample", "scheduling_tcd")):
        for steps in (4, 8):
            s = make(cls_name, base)
            s.set_timesteps(steps)
            extra_doc = ", eta=0.3, generator=g" if name == "tcd" else ", generator=g"
            case = G.Case(f"sched_{name}_{steps}", "scheduler",
                          f"{cls_name}.from_config(SD1.5 scheduler config); set_timesteps({steps}); " +
                          LOOP_DOC.format(extra=extra_doc, noise="; g = torch.Generator().manual_seed(%d)" % (800 + steps)),
                          params={"num_inference_steps": steps, "scheduler": name,
                                  **({"eta": 0.3} if name == "tcd" else {}),
                                  "generator_seed": 800 + steps,
                                  "resolved_config": G.sched_config_dict(s),
                                  "init_noise_sigma": float(s.init_noise_sigma), "order": s.order})
            common_outputs(case, s)
            x0, eps = fixed_inputs(case, len(s.timesteps), 700 + steps)
            trajectory(case, s, G.cast(x0) * s.init_noise_sigma, eps, 800 + steps, module, step_kw, extra_out=extra)
            G.save_case(case, ARGS.out)


@torch.no_grad()
def case_lcm_img2img(base):
    # (a) LatentConsistencyModelImg2ImgPipeline: set_timesteps(n, strength=s) keeps n steps inside the first s of
    #     the origin schedule; latents = add_noise(image_latents, noise, timesteps[:1]); every step runs.
    #     TCDScheduler.set_timesteps takes the same strength argument.
    for name, cls_name, steps, strength, step_kw, extra, module in (
            ("lcm", "LCMScheduler", 4, 0.5, {}, "denoised", "scheduling_lcm"),
            ("tcd", "TCDScheduler", 4, 0.6, {"eta": 0.3}, "pred_noised_sample", "scheduling_tcd")):
        s = make(cls_name, base)
        s.set_timesteps(steps, strength=strength)
        eta_doc = "eta=0.3, " if name == "tcd" else ""
        case = G.Case(f"sched_{name}_img2img_{steps}", "scheduler",
                      f"{cls_name}.from_config(SD1.5 scheduler config); set_timesteps({steps}, strength={strength}) "
                      "(LatentConsistencyModelImg2ImgPipeline); noised = add_noise(x0, noise, timesteps[:1]); then "
                      f"from x = noised for each k: x = step(eps[k], t_k, x, {eta_doc}generator=g).prev_sample; "
                      "g = torch.Generator().manual_seed(%d)." % (900 + steps),
                      params={"num_inference_steps": steps, "strength": strength, "scheduler": name,
                              **({"eta": 0.3} if name == "tcd" else {}),
                              "generator_seed": 900 + steps, "resolved_config": G.sched_config_dict(s),
                              "init_noise_sigma": float(s.init_noise_sigma), "order": s.order})
        common_outputs(case, s)
        x0, eps = fixed_inputs(case, len(s.timesteps), 750 + steps)
        noise = torch.randn(1, 4, 8, 8, generator=C.gen(760 + steps), dtype=torch.float32)
        case.inp("noise", noise, "add_noise noise")
        noised = s.add_noise(G.cast(x0), G.cast(noise), s.timesteps[:1])
        case.out("noised", noised, "add_noise(x0, noise, timesteps[:1])")
        trajectory(case, s, noised, eps, 900 + steps, module, step_kw, extra_out=extra)
        G.save_case(case, ARGS.out)

    # (b) StableDiffusionImg2ImgPipeline with LCMScheduler (LCM-LoRA img2img): set_timesteps(n), then
    #     get_timesteps: t_start = n - min(int(n * strength), n); set_begin_index(t_start); add_noise at
    #     timesteps[t_start]; steps t_start..n-1.
    steps, strength = 8, 0.5
    s = make("LCMScheduler", base)
    s.set_timesteps(steps)
    init_timestep = min(int(steps * strength), steps)
    t_start = max(steps - init_timestep, 0)
    s.set_begin_index(t_start * s.order)
    case = G.Case(f"sched_lcm_sd_img2img_{steps}", "scheduler",
                  f"LCMScheduler.from_config(SD1.5 scheduler config); set_timesteps({steps}); as "
                  f"StableDiffusionImg2ImgPipeline.get_timesteps(strength={strength}): t_start = {t_start}, "
                  "set_begin_index(t_start); noised = add_noise(x0, noise, timesteps[t_start:t_start+1]); then "
                  "from x = noised for k >= t_start: x = step(eps[k - t_start], t_k, x, generator=g).prev_sample; "
                  "g = torch.Generator().manual_seed(%d)." % (900 + steps),
                  params={"num_inference_steps": steps, "strength": strength, "begin_index": t_start,
                          "scheduler": "lcm", "generator_seed": 900 + steps,
                          "resolved_config": G.sched_config_dict(s),
                          "init_noise_sigma": float(s.init_noise_sigma), "order": s.order})
    common_outputs(case, s)
    x0, eps = fixed_inputs(case, len(s.timesteps) - t_start, 750 + steps)
    noise = torch.randn(1, 4, 8, 8, generator=C.gen(760 + steps), dtype=torch.float32)
    case.inp("noise", noise, "add_noise noise")
    noised = s.add_noise(G.cast(x0), G.cast(noise), s.timesteps[t_start:t_start + 1])
    case.out("noised", noised, "add_noise(x0, noise, timesteps[t_start:t_start+1])")
    trajectory(case, s, noised, eps, 900 + steps, "scheduling_lcm", {}, begin=t_start, extra_out="denoised")
    G.save_case(case, ARGS.out)


# Spacing overrides: (our scheduler name, spacing, steps). from_config(config, timestep_spacing=...).
SPACING_CASES = [
    ("ddim", "trailing", 4), ("ddim", "trailing", 8), ("euler", "trailing", 8), ("euler_a", "trailing", 8),
    ("dpmpp_2m", "trailing", 8), ("dpmpp_2m_karras", "trailing", 8), ("ddim", "linspace", 8),
    ("euler", "leading", 8), ("dpmpp_2m", "leading", 8),
]
RECORDED = {"euler_a": "scheduling_euler_ancestral_discrete"}


@torch.no_grad()
def case_spacings(base):
    for name, spacing, steps in SPACING_CASES:
        cls_name, kw = G.SCHEDULERS[name]
        s = make(cls_name, base, **kw, timestep_spacing=spacing)
        s.set_timesteps(steps)
        seed = 800 + steps if name == "euler_a" else None
        case = G.Case(f"sched_{name}_{spacing}_{steps}", "scheduler",
                      f"{cls_name}.from_config(SD1.5 scheduler config, {dict(kw, timestep_spacing=spacing)}); "
                      f"set_timesteps({steps}); " +
                      LOOP_DOC.format(extra=", generator=g" if seed else (", eta=0.0" if name == "ddim" else ""),
                                      noise="; g = torch.Generator().manual_seed(%d)" % seed if seed else ""),
                      params={"num_inference_steps": steps, "scheduler": name, "timestep_spacing": spacing,
                              **({"generator_seed": seed} if seed else {}),
                              "resolved_config": G.sched_config_dict(s),
                              "init_noise_sigma": float(s.init_noise_sigma), "order": s.order})
        common_outputs(case, s)
        x0, eps = fixed_inputs(case, len(s.timesteps), 700 + steps)
        trajectory(case, s, G.cast(x0) * s.init_noise_sigma, eps, seed, RECORDED.get(name),
                   {"eta": 0.0} if name == "ddim" else {})
        G.save_case(case, ARGS.out)


def finalize(args):
    import finalize as F
    sys.path.insert(0, os.path.join(HERE, "shims"))
    from safetensors.numpy import load_file

    ra, rb, rf = (json.load(open(os.path.join(d, "run.json"))) for d in (args.a, args.b, args.f64))
    bcases = {c["id"]: c for c in rb["cases"]}
    fcases = {c["id"]: c for c in rf["cases"]}
    os.makedirs(os.path.join(args.dest, "cases"), exist_ok=True)
    new = []
    for c in ra["cases"]:
        A = load_file(os.path.join(args.a, c["file"]))
        B = load_file(os.path.join(args.b, bcases[c["id"]]["file"]))
        Fd = load_file(os.path.join(args.f64, fcases[c["id"]]["file"]))
        for k, meta in c["outputs"].items():
            a = A[k]
            if a.dtype.kind == "f" and np.isnan(a).any():
                raise SystemExit(f"NaN in golden {c['id']}/{k}")
            rerun, f64 = F.maxabs(a, B[k]), F.maxabs(a, Fd[k])
            ref = float(np.abs(a.astype(np.float64)).max()) if a.size else 0.0
            atol = 0.0 if a.dtype.kind in "iub" else F.ceil_1sig(max(10 * rerun, 10 * f64, 1e-6 * max(1.0, ref)))
            meta.update({"atol": atol, "rerun_max_abs": rerun, "fp64_max_abs": f64, "ref_max_abs": ref})
            print(f"  {c['id']}/{k}: atol={atol:g} fp64={f64:.3g} rerun={rerun:.3g} ref={ref:.3g}")
        c["generated_by"] = "tools/oracle/make_sched_golden.py (diffusers %s)" % ra["environment"]["diffusers"]
        shutil.copy2(os.path.join(args.a, c["file"]), os.path.join(args.dest, c["file"]))
        new.append(c)
    path = os.path.join(args.dest, "manifest.json")
    man = json.load(open(path))
    ids = {c["id"] for c in new}
    man["cases"] = [c for c in man["cases"] if c["id"] not in ids] + new
    with open(path, "w") as f:
        json.dump(man, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(len(new), "cases ->", path)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--finalize", action="store_true")
    ap.add_argument("--a")
    ap.add_argument("--b")
    ap.add_argument("--f64")
    ap.add_argument("--dest")
    ARGS = ap.parse_args()
    if ARGS.finalize:
        return finalize(ARGS)
    G.DT = getattr(torch, ARGS.dtype)
    G.ARGS = ARGS
    if ARGS.threads:
        torch.set_num_threads(ARGS.threads)
    os.makedirs(ARGS.out, exist_ok=True)
    base = base_config()
    case_consistency(base)
    case_lcm_img2img(base)
    case_spacings(base)
    run = {"set": "sched_fewstep", "dtype": ARGS.dtype, "environment": C.env_info(), "cases": G.CASES}
    C.write_json(os.path.join(ARGS.out, "run.json"), run)
    print("wrote", len(G.CASES), "cases to", ARGS.out)


if __name__ == "__main__":
    main()
