"""LoRA files in the formats diffusers 0.30 loads, and golden outputs of the tiny SD1.5 models with them.

Usage (after `. ./env.sh`):
  $PY make_lora_golden.py --files DIR                      # writes the tiny LoRA files (deterministic, seeded)
  $PY make_lora_golden.py --files DIR --out RUN [--threads N] [--dtype float32|float64]
then merge three runs with finalize.py exactly like the shared goldens:
  $PY finalize.py --a RUN_A --b RUN_B --f64 RUN_F64 --dest DEST --title "LoRA goldens"

Each case loads one LoRA file with `pipe.load_lora_weights(file)` (the LDM-named kohya file with
`unet_config=pipe.unet.config`, which is how diffusers maps input_blocks/middle_block/output_blocks names),
fuses it with `pipe.fuse_lora(lora_scale=s)` and records the text encoder's last_hidden_state on fixed ids,
the UNet's noise_pred on fixed inputs, and every fused weight that changed ("fused.unet.<param>",
"fused.text_encoder.<param>"). The two-adapter case loads two files as adapters "a" and "b", calls
`pipe.set_adapters(["a", "b"], [wa, wb])` and records the (unfused, PEFT) outputs.
checks.max_abs_fused_vs_formula compares diffusers' fused weights with W + s * alpha/rank * up @ down computed
here (alpha = rank when the file has none), so the golden data also pins the formula.
Like make_golden.py, a float64 run casts the models (and the loaded LoRA layers) to float64.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import make_golden as MG  # noqa: E402  (Case, save_case, load_pipe)

# (module, rank) per component, diffusers/transformers names. Ranks differ per module on purpose (per-module
# alpha / rank); the files without alpha use one rank for all (diffusers takes one rank for all of them).
UNET_MODULES = [
    ("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", 4),        # linear
    ("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k", 2),        # linear, cross-attention input
    ("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0", 3),    # linear
    ("down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj", 2),     # linear
    ("down_blocks.0.attentions.0.proj_in", 2),                                # 1x1 conv
    ("down_blocks.0.resnets.0.conv1", 3),                                     # 3x3 conv (LoCon)
    ("down_blocks.1.resnets.0.time_emb_proj", 2),                             # linear
    ("mid_block.attentions.0.transformer_blocks.0.attn1.to_v", 4),            # linear
    ("up_blocks.1.resnets.0.conv_shortcut", 2),                               # 1x1 conv
    ("up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_q", 3),          # linear
]
TE_MODULES = [
    ("text_model.encoder.layers.0.self_attn.q_proj", 4),
    ("text_model.encoder.layers.1.self_attn.out_proj", 2),
    ("text_model.encoder.layers.3.mlp.fc1", 3),
]
ATTN_ONLY = [m for m in UNET_MODULES if ".attn1." in m[0] or ".attn2." in m[0]]

# diffusers name -> LDM (original SD) name, for the modules above (tiny UNet: layers_per_block 2).
LDM_NAMES = {
    "down_blocks.0.attentions.0.": "input_blocks.1.1.",
    "down_blocks.0.resnets.0.conv1": "input_blocks.1.0.in_layers.2",
    "down_blocks.1.resnets.0.time_emb_proj": "input_blocks.4.0.emb_layers.1",
    "mid_block.attentions.0.": "middle_block.1.",
    "up_blocks.1.resnets.0.conv_shortcut": "output_blocks.3.0.skip_connection",
    "up_blocks.1.attentions.2.": "output_blocks.5.1.",
}

LORA_FILES = {
    # name: (description, scale used in the golden case)
    "kohya_alpha": ("kohya/A1111: lora_unet_*/lora_te_* with .alpha (alpha != rank), per-module ranks, linear + "
                    "1x1 + 3x3 conv, UNet + text encoder", 0.8),
    "kohya_noalpha": ("kohya/A1111 without .alpha keys (alpha = rank), rank 2 everywhere", 1.0),
    "kohya_ldm": ("kohya names after the LDM modules (lora_unet_input_blocks_1_1_...), with alpha", 0.6),
    "diffusers_old": ("old diffusers attention-processor format: unet.*.processor.to_q_lora.down.weight, "
                      "unet.*.lora.down.weight for non-attention modules, text_encoder.*.to_q_lora / "
                      "lora_linear_layer; rank 2, no alpha", 1.0),
    "peft": ("PEFT (diffusers >= 0.22 save_lora_weights): unet.*.lora_A.weight / lora_B.weight, "
             "text_encoder.*.lora_A/B; rank 3, no alpha", 0.75),
}
TWO_ADAPTERS = (("kohya_alpha", 0.7), ("peft", -0.4))


def base_weights():
    from safetensors.torch import load_file

    unet = load_file(os.path.join(C.SD_DIR, "unet", "diffusion_pytorch_model.safetensors"))
    te = load_file(os.path.join(C.SD_DIR, "text_encoder", "model.safetensors"))
    return unet, te


def factors(g, shape, rank, std_delta):
    """down [r, in(, kh, kw)], up [out, r(, 1, 1)] with |up @ down| about std_delta."""
    out_c, in_c = shape[0], shape[1]
    conv = len(shape) == 4
    k = shape[2] * shape[3] if conv else 1
    down = torch.randn(rank, in_c * k, generator=g, dtype=torch.float32) / (in_c * k) ** 0.5
    up = torch.randn(out_c, rank, generator=g, dtype=torch.float32) * std_delta / rank ** 0.5
    if conv:
        return down.reshape(rank, in_c, shape[2], shape[3]), up.reshape(out_c, rank, 1, 1)
    return down, up


def make_modules(seed, uniform_rank=None, with_alpha=True, unet_modules=None, te_modules=None):
    """{(component, module): (down, up, alpha or None)} with deltas about 0.5x the weight's std."""
    unet_w, te_w = base_weights()
    g = C.gen(seed)
    mods = {}
    for comp, table, weights in (("unet", unet_modules if unet_modules is not None else UNET_MODULES, unet_w),
                                 ("text_encoder", te_modules if te_modules is not None else TE_MODULES, te_w)):
        for name, rank in table:
            rank = uniform_rank or rank
            w = weights[name + ".weight"]
            down, up = factors(g, tuple(w.shape), rank, 0.5 * float(w.std()) * 1.7)
            alpha = float(torch.randint(1, 2 * rank + 1, (1,), generator=g)) if with_alpha else None
            if alpha is not None and alpha == rank:
                alpha = rank + 0.5
            if alpha is not None and comp == "text_encoder":
                # diffusers 0.30 drops the per-module alphas of kohya text-encoder self-attention modules
                # (its alpha_pattern key ends at "self_attn", which PEFT never matches) and uses the most
                # common alpha instead; one alpha for the whole text encoder keeps both readings equal
                # (ranks still differ, so alpha / rank still differs per module).
                alpha = 3.0
            mods[(comp, name)] = (down, up, alpha)
    return mods


def kohya_name(comp, name, ldm=False):
    if comp == "text_encoder":
        return "lora_te_" + name.replace(".", "_")
    if ldm:
        for d, l in LDM_NAMES.items():
            if name.startswith(d):
                name = l + name[len(d):]
                break
        else:
            raise KeyError(name)
    return "lora_unet_" + name.replace(".", "_")


def write_files(out_dir):
    from safetensors.torch import save_file

    os.makedirs(out_dir, exist_ok=True)
    specs = {
        "kohya_alpha": make_modules(11),
        "kohya_noalpha": make_modules(12, uniform_rank=2, with_alpha=False),
        "kohya_ldm": make_modules(13),
        "diffusers_old": make_modules(14, uniform_rank=2, with_alpha=False),
        "peft": make_modules(15, uniform_rank=3, with_alpha=False),
    }
    tags = json.dumps({"10_sks style": {"sks style": 12, "painting": 7, "1girl": 3}, "5_extra": {"painting": 2}})
    for fname, mods in specs.items():
        sd = {}
        for (comp, name), (down, up, alpha) in mods.items():
            if fname.startswith("kohya"):
                k = kohya_name(comp, name, ldm=fname == "kohya_ldm")
                sd[k + ".lora_down.weight"] = down
                sd[k + ".lora_up.weight"] = up
                if alpha is not None:
                    sd[k + ".alpha"] = torch.tensor(alpha, dtype=torch.float32)
            elif fname == "diffusers_old":
                if comp == "unet":
                    attn = [".to_q", ".to_k", ".to_v", ".to_out.0"]
                    hit = next((a for a in attn if name.endswith(a)), None)
                    if hit:
                        base = name[: -len(hit)]
                        short = hit[1:].replace(".0", "")
                        k = f"unet.{base}.processor.{short}_lora"
                    else:
                        k = f"unet.{name}.lora"
                else:
                    if name.endswith("_proj") and ".self_attn." in name:
                        base, proj = name.rsplit(".", 1)
                        k = f"text_encoder.{base}.to_{proj[0] if proj != 'out_proj' else 'out'}_lora"
                    else:
                        k = f"text_encoder.{name}.lora_linear_layer"
                sd[k + ".down.weight"] = down
                sd[k + ".up.weight"] = up
            else:  # peft
                sd[f"{comp}.{name}.lora_A.weight"] = down
                sd[f"{comp}.{name}.lora_B.weight"] = up
        sd = {k: v.contiguous() for k, v in sd.items()}
        meta = {"format": "pt"}
        if fname == "kohya_alpha":
            meta.update({"ss_network_module": "networks.lora", "ss_tag_frequency": tags,
                         "ss_base_model_version": "sd_v1"})
        save_file(sd, os.path.join(out_dir, fname + ".safetensors"), metadata=meta)
        if fname == "kohya_alpha":
            torch.save(sd, os.path.join(out_dir, fname + ".bin"))
        with open(os.path.join(out_dir, fname + ".json"), "w") as f:
            json.dump({"description": LORA_FILES[fname][0],
                       "modules": {f"{c}.{n}": {"rank": int(d.shape[0]), "alpha": a}
                                   for (c, n), (d, u, a) in mods.items()}}, f, indent=1)
        print("wrote", fname, len(sd), "tensors")


def fused_changes(pipe, base_sd):
    """Parameters whose fused value differs from the base, by plain module name."""
    out = {}
    for comp in ("unet", "text_encoder"):
        sd = getattr(pipe, comp).state_dict()
        for k, v in sd.items():
            if "lora_" in k:
                continue
            plain = k.replace(".base_layer.", ".")
            b = base_sd[comp][plain]
            if not torch.equal(v.to(b.dtype), b):
                out[f"{comp}.{plain}"] = v
    return out


def expected_fused(files_dir, fname, scale, base_sd):
    info = json.load(open(os.path.join(files_dir, fname + ".json")))
    spec = {"kohya_alpha": 11, "kohya_noalpha": 12, "kohya_ldm": 13, "diffusers_old": 14, "peft": 15}[fname]
    kw = {"kohya_noalpha": dict(uniform_rank=2, with_alpha=False), "diffusers_old": dict(uniform_rank=2, with_alpha=False),
          "peft": dict(uniform_rank=3, with_alpha=False)}.get(fname, {})
    mods = make_modules(spec, **kw)
    out = {}
    for (comp, name), (down, up, alpha) in mods.items():
        r = down.shape[0]
        a = alpha if alpha is not None else r
        d = (up.double().flatten(1) @ down.double().flatten(1)) * (a / r) * scale
        w = base_sd[comp][name + ".weight"].double()
        out[f"{comp}.{name}.weight"] = w + d.reshape(w.shape)
    assert info["modules"].keys() == {f"{c}.{n}" for c, n in mods}
    return out


@torch.no_grad()
def run(files_dir, out_dir):
    pipe0 = MG.load_pipe()
    base_sd = {c: {k: v.clone() for k, v in getattr(pipe0, c).state_dict().items()} for c in ("unet", "text_encoder")}
    prompts = ["a sks style painting of a lighthouse", ""]
    ids = pipe0.tokenizer(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    g = C.gen(601)
    lat = torch.randn(2, 4, 16, 16, generator=g, dtype=torch.float32)
    t = torch.tensor(601, dtype=torch.int64)
    ehs = pipe0.text_encoder(ids)[0].float()

    def inputs(case):
        case.inp("input_ids", ids, "tokenized ['a sks style painting of a lighthouse', '']")
        case.inp("latents", lat, "[2,4,16,16]")
        case.inp("timestep", t)
        case.inp("encoder_hidden_states", ehs, "base text encoder last_hidden_state of input_ids")

    def forward(pipe):
        te = pipe.text_encoder(ids)[0]
        noise = pipe.unet(MG.cast(lat), t, encoder_hidden_states=MG.cast(ehs)).sample
        return te, noise

    te0, noise0 = forward(pipe0)

    def effect(case, te, noise):
        case.checks["max_abs_text_encoder_vs_base"] = float((te - te0).abs().max())
        case.checks["max_abs_noise_pred_vs_base"] = float((noise - noise0).abs().max())

    for fname, (desc, scale) in LORA_FILES.items():
        pipe = MG.load_pipe()
        path = os.path.join(files_dir, fname + ".safetensors")
        kw = {"unet_config": pipe.unet.config} if fname == "kohya_ldm" else {}
        pipe.load_lora_weights(files_dir, weight_name=fname + ".safetensors", adapter_name="a", **kw)
        pipe = pipe.to(dtype=MG.DT)
        pipe.fuse_lora(lora_scale=scale)
        te, noise = forward(pipe)
        case = MG.Case("lora_" + fname, "lora",
                       f"{desc}. pipe.load_lora_weights(file{', unet_config=unet.config' if kw else ''}); "
                       f"pipe.fuse_lora(lora_scale={scale}); text_encoder(input_ids) and unet(latents, timestep, "
                       "encoder_hidden_states). fused.<component>.<param>: every weight the fuse changed.",
                       params={"lora_file": f"lora/{fname}.safetensors", "lora_scale": scale},
                       models={"unet": "tiny-sd15/unet", "text_encoder": "tiny-sd15/text_encoder"})
        inputs(case)
        case.out("text_encoder_last_hidden_state", te)
        case.out("noise_pred", noise)
        effect(case, te, noise)
        changed = fused_changes(pipe, base_sd)
        for k, v in sorted(changed.items()):
            case.out("fused." + k, v)
        exp = expected_fused(files_dir, fname, scale, base_sd)
        case.checks["changed_params"] = len(changed)
        case.checks["formula_params"] = len(exp)
        case.checks["max_abs_fused_vs_formula"] = max(
            float((changed[k].double() - v).abs().max()) if k in changed else float("inf") for k, v in exp.items())
        print(f"   {fname}: changed {len(changed)} formula {len(exp)} max|fused-formula| "
              f"{case.checks['max_abs_fused_vs_formula']:.3g}")
        MG.save_case(case, out_dir)

    pipe = MG.load_pipe()
    names, weights = [], []
    for i, (fname, w) in enumerate(TWO_ADAPTERS):
        name = "ab"[i]
        pipe.load_lora_weights(files_dir, weight_name=fname + ".safetensors", adapter_name=name)
        names.append(name)
        weights.append(w)
    pipe = pipe.to(dtype=MG.DT)
    pipe.set_adapters(names, weights)
    te, noise = forward(pipe)
    case = MG.Case("lora_two_adapters", "lora",
                   "Two LoRAs: load_lora_weights(kohya_alpha, adapter_name='a'), load_lora_weights(peft, "
                   f"adapter_name='b'), set_adapters(['a', 'b'], {weights}) (PEFT layers, not fused).",
                   params={"lora_files": [f"lora/{f}.safetensors" for f, _ in TWO_ADAPTERS], "weights": weights},
                   models={"unet": "tiny-sd15/unet", "text_encoder": "tiny-sd15/text_encoder"})
    inputs(case)
    case.out("text_encoder_last_hidden_state", te)
    case.out("noise_pred", noise)
    effect(case, te, noise)
    MG.save_case(case, out_dir)


PIPELINE_CASE = dict(
    id="pipe_lora_ip_base",
    description="StableDiffusionPipeline with a LoRA (load_lora_weights(kohya_alpha) + fuse_lora(lora_scale=0.8) + "
                "unload_lora_weights, so the fused weights stay) and IP-Adapter base (scale 0.6) + text, DDIM 6 steps. "
                "Same layout as the shared pipeline cases (make_golden.run_pipeline).",
    prompt="a sks style painting of a lighthouse", steps=6, latent_seed=1101,
    ip=[dict(adapter="base", images=["shapes_100x75.png"], scale=0.6)],
    lora=dict(file="lora/kohya_alpha.safetensors", scale=0.8))


def run_pipeline_case(files_dir, out_dir):
    """make_golden.run_pipeline with a LoRA fused into the pipeline it loads."""
    plain_load = MG.load_pipe
    spec = PIPELINE_CASE

    def load_with_lora(*a, **kw):
        pipe = plain_load(*a, **kw)
        pipe.load_lora_weights(files_dir, weight_name=os.path.basename(spec["lora"]["file"]), adapter_name="a")
        pipe = pipe.to(dtype=MG.DT)
        pipe.fuse_lora(lora_scale=spec["lora"]["scale"])
        pipe.unload_lora_weights()
        return pipe

    MG.load_pipe = load_with_lora
    try:
        MG.run_pipeline(dict(spec))
    finally:
        MG.load_pipe = plain_load


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", required=True, help="folder of the LoRA files (written when --out is not given)")
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = ap.parse_args()
    if not args.out:
        write_files(args.files)
        return
    MG.ARGS = args
    MG.DT = getattr(torch, args.dtype)
    if args.threads:
        torch.set_num_threads(args.threads)
    if MG.DT == torch.float64:
        torch.set_default_dtype(torch.float64)
    os.makedirs(args.out, exist_ok=True)
    run(args.files, args.out)
    run_pipeline_case(args.files, args.out)
    doc = {"set": "lora", "dtype": args.dtype, "environment": C.env_info(), "cases": MG.CASES}
    C.write_json(os.path.join(args.out, "run.json"), doc)
    print("wrote", len(MG.CASES), "cases to", args.out)


if __name__ == "__main__":
    main()
