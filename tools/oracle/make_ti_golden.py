"""Textual-inversion embedding files in the formats A1111 and diffusers write, and golden outputs of the tiny
SD1.5 text encoder after diffusers' `pipe.load_textual_inversion(...)`.

Usage (after `. ./env.sh`, this file copied beside common.py / make_golden.py / finalize.py):
  $PY make_ti_golden.py --files DIR                      # writes the tiny embedding files (seeded: same bytes)
  $PY make_ti_golden.py --files DIR --out RUN [--threads N] [--dtype float32|float64]
then merge three runs with finalize.py exactly like the shared goldens:
  $PY finalize.py --a RUN_A --b RUN_B --f64 RUN_F64 --dest DEST --title "Textual inversion goldens"

Files (width = the tiny text encoder's hidden size, 32):
  ti-cat.pt              A1111 torch.save: string_to_param {'*': [3, 32]}, string_to_token, name, step
  ti-style.safetensors   A1111 safetensors: emb_params [2, 32]
  learned_embeds.bin     diffusers: {'<cat-toy>': [32]} (one vector)
Each case loads files with `pipe.load_textual_inversion(file, token=...)` (token = file stem for the A1111
files, as A1111 names embeddings; the diffusers file names its own token) and records, per prompt, the ids
the pipeline's tokenizer gives after `pipe.maybe_convert_prompt` (multi-vector tokens expanded) and
`pipe.encode_prompt(prompt, negative_prompt=...)` (prompt_embeds and negative_prompt_embeds).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import make_golden as MG  # noqa: E402  (Case, save_case, load_pipe)

WIDTH = 32  # tiny-sd15/text_encoder hidden_size

FILES = {
    # file: (token diffusers is given, vectors)
    "ti-cat.pt": ("ti-cat", 3),
    "ti-style.safetensors": ("ti-style", 2),
    "learned_embeds.bin": ("<cat-toy>", 1),
}

CASES = [
    # id, files loaded, [(prompt, negative prompt)], description
    ("ti_a1111_pt", ["ti-cat.pt"], [("a ti-cat photo", ""), ("ti-cat", "blurry ti-cat")],
     "A1111 .pt (string_to_param, 3 vectors), token 'ti-cat'"),
    ("ti_a1111_safetensors", ["ti-style.safetensors"], [("a painting in ti-style, detailed", "ti-style")],
     "A1111 .safetensors (emb_params, 2 vectors), token 'ti-style'"),
    ("ti_diffusers_bin", ["learned_embeds.bin"], [("a <cat-toy> photo", ""), ("a <cat-toy>photo,<cat-toy>", "")],
     "diffusers learned_embeds.bin ({'<cat-toy>': [32]}, one vector)"),
    ("ti_two", ["ti-cat.pt", "learned_embeds.bin"], [("a <cat-toy> next to a ti-cat", "ti-cat, lowres")],
     "two embeddings in one prompt: ti-cat.pt (3 vectors) and learned_embeds.bin (1 vector)"),
]


def vectors(seed, n, table):
    """n rows about as large as the token table's rows (so the outputs move visibly)."""
    g = C.gen(seed)
    return (torch.randn(n, WIDTH, generator=g, dtype=torch.float32) * float(table.std()) * 1.5).contiguous()


def write_files(out_dir):
    from safetensors.torch import load_file, save_file

    os.makedirs(out_dir, exist_ok=True)
    table = load_file(os.path.join(C.SD_DIR, "text_encoder", "model.safetensors"))[
        "text_model.embeddings.token_embedding.weight"]
    assert table.shape[1] == WIDTH, table.shape
    cat = vectors(701, 3, table)
    # A1111 TextualInversion.Embedding.save(): the vectors are a trained tensor (requires_grad).
    vec = cat.clone().requires_grad_(True)
    torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": vec}, "name": "ti-cat", "step": 500,
                "sd_checkpoint": "0123456789", "sd_checkpoint_name": "tiny-sd15"},
               os.path.join(out_dir, "ti-cat.pt"))
    save_file({"emb_params": vectors(702, 2, table)}, os.path.join(out_dir, "ti-style.safetensors"))
    torch.save({"<cat-toy>": vectors(703, 1, table)[0].clone()}, os.path.join(out_dir, "learned_embeds.bin"))
    print("wrote", sorted(FILES), "to", out_dir)


@torch.no_grad()
def run(files_dir, out_dir):
    for cid, files, prompts, desc in CASES:
        pipe = MG.load_pipe()
        base_rows = pipe.text_encoder.get_input_embeddings().weight.shape[0]
        for f in files:
            pipe.load_textual_inversion(os.path.join(files_dir, f), token=FILES[f][0])
        case = MG.Case(cid, "textual_inversion",
                       f"{desc}. pipe.load_textual_inversion(file, token=...) for each file; per prompt k: ids_k / "
                       "negative_ids_k = tokenizer(maybe_convert_prompt(text), max_length 77).input_ids, "
                       "prompt_embeds_k / negative_prompt_embeds_k = pipe.encode_prompt(prompt, negative_prompt=...).",
                       params={"files": [f"textual_inversion/{f}" for f in files],
                               "tokens": [FILES[f][0] for f in files],
                               "prompts": [p for p, _ in prompts], "negative_prompts": [n for _, n in prompts],
                               "base_vocab_rows": base_rows},
                       models={"text_encoder": "tiny-sd15/text_encoder", "tokenizer": "tiny-sd15/tokenizer"})
        for k, (prompt, negative) in enumerate(prompts):
            for name, text in ((f"ids_{k}", prompt), (f"negative_ids_{k}", negative)):
                converted = pipe.maybe_convert_prompt(text, pipe.tokenizer)
                ids = pipe.tokenizer(converted, padding="max_length", max_length=77, truncation=True,
                                     return_tensors="pt").input_ids[0]
                case.out(name, ids.to(torch.int64), f"tokenizer(maybe_convert_prompt({text!r}))")
            pe, ne = pipe.encode_prompt(prompt, "cpu", 1, True, negative_prompt=negative)
            case.out(f"prompt_embeds_{k}", pe[0])
            case.out(f"negative_prompt_embeds_{k}", ne[0])
        table = pipe.text_encoder.get_input_embeddings().weight
        case.out("added_rows", table[base_rows:], "token embedding rows added (ids base_vocab_rows, ...)")
        case.checks["added_tokens"] = {t: int(i) for t, i in pipe.tokenizer.added_tokens_encoder.items() if i >= base_rows}
        MG.save_case(case, out_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", required=True, help="folder of the embedding files (written when --out is not given)")
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
    doc = {"set": "textual_inversion", "dtype": args.dtype, "environment": C.env_info(), "cases": MG.CASES}
    C.write_json(os.path.join(args.out, "run.json"), doc)
    print("wrote", len(MG.CASES), "cases to", args.out)


if __name__ == "__main__":
    main()
