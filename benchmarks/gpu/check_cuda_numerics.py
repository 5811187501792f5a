#!/usr/bin/env python3
"""CUDA numerics of the C++ engine against transformers (benchmarks/gpu/run.sh).

--fixture DIR: the tiny-phi fixture (reference.safetensors computed by transformers 5.17):
  `qcompress forward --device cuda` logits in float32 and bfloat16 against the reference
  logits, and `qcompress generate --greedy --device cuda` (CUDA graph on and off) against
  the reference greedy continuation.
--snapshot DIR: a phi-1.5-shaped snapshot written by `qcompress synth`: transformers loads the
  same files and both compute logits in bfloat16 on CUDA; reports the largest difference
  relative to the logits' spread and the top-1 agreement.
Prints one JSON object.
"""
import argparse, json, os, subprocess, sys, tempfile

import torch
from safetensors.torch import load_file, save_file


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    return p.stdout


def forward(q, model, ids, mask, dtype, tmp):
    src, dst = os.path.join(tmp, "ids.safetensors"), os.path.join(tmp, "out.safetensors")
    t = {"input_ids": ids.contiguous()}
    if mask is not None:
        t["attention_mask"] = mask.contiguous()
    save_file(t, src)
    run([q, "forward", model, "--ids", src, "--out", dst, "--device", "cuda", "--dtype", dtype])
    return load_file(dst)["logits"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qcompress", required=True)
    ap.add_argument("--fixture")
    ap.add_argument("--snapshot")
    a = ap.parse_args()
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        if a.fixture:
            ref = load_file(os.path.join(a.fixture, "reference.safetensors"))
            want = ref["logits"]
            valid = ref["attention_mask"].bool()
            for dtype in ["float32", "bfloat16"]:
                got = forward(a.qcompress, a.fixture, ref["input_ids"], ref["attention_mask"], dtype, tmp)
                diff = (got - want).abs()[valid]
                res[f"tiny_forward_{dtype}_max_abs_diff"] = diff.max().item()
                res[f"tiny_forward_{dtype}_top1_agreement"] = (got.argmax(-1) == want.argmax(-1))[valid].float().mean().item()
            prompt = ref["greedy_prompt"][0].tolist()
            wantIds = ref["greedy_ids"][0].tolist()
            n = len(wantIds) - len(prompt)
            for graphs in ["1", "0"]:
                env = dict(os.environ, QCW_CUDA_GRAPHS=graphs)
                out = json.loads(run([a.qcompress, "generate", a.fixture, "--ids", ",".join(map(str, prompt)),
                                      "--max-new-tokens", str(n), "--greedy", "--ignore-eos", "--device", "cuda",
                                      "--dtype", "float32", "--json"], env))
                res[f"tiny_greedy_matches_transformers_graphs_{graphs}"] = out["ids"] == wantIds
                if out["ids"] != wantIds:
                    res[f"tiny_greedy_ids_graphs_{graphs}"] = out["ids"]
        if a.snapshot:
          try:
            from transformers import PhiForCausalLM
            g = torch.Generator().manual_seed(3)
            ids = torch.randint(0, 50000, (2, 64), generator=g)
            mask = torch.ones_like(ids)
            mask[1, :16] = 0  # left padding in row 1
            got = forward(a.qcompress, a.snapshot, ids, mask, "bfloat16", tmp)
            model = PhiForCausalLM.from_pretrained(a.snapshot, dtype=torch.bfloat16).cuda().eval()
            with torch.inference_mode():
                want = model(ids.cuda(), attention_mask=mask.cuda()).logits.float().cpu()
            valid = mask.bool()
            d = (got - want).abs()[valid]
            res["phi15_bf16_max_abs_diff"] = d.max().item()
            res["phi15_bf16_mean_abs_diff"] = d.mean().item()
            res["phi15_bf16_logit_std"] = want[valid].std().item()
            res["phi15_bf16_top1_agreement"] = (got.argmax(-1) == want.argmax(-1))[valid].float().mean().item()
          except Exception as e:
            res["phi15_error"] = f"{type(e).__name__}: {e}"[:500]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
