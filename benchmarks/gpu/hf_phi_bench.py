#!/usr/bin/env python3
"""Hugging Face PyTorch baseline for the GPU comparison (benchmarks/gpu/run.sh).

Builds PhiForCausalLM of the phi-1.5 shape with random weights in bf16 on CUDA and measures,
as the C++ engine's `qcompress bench` does: prefill tokens/s at batch 8 x 512, decode tokens/s
at batch 1 and batch 8 (eager, and with a static cache, which transformers compiles), and the
peak CUDA memory allocated. Decode speed = (new tokens - 1) / (time of N new tokens - time of
one new token), so the prompt's prefill is not counted. Prints one JSON object per measurement
and writes them all to --out.
"""
import argparse, json, platform, sys, time

import torch
import transformers
from transformers import PhiConfig, PhiForCausalLM


def timed(fn, repeats=1):
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--skip-compile", action="store_true")
    a = ap.parse_args()
    results = {"machine": {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                           "transformers": transformers.__version__, "python": platform.python_version()}}

    def save():
        with open(a.out + ".tmp", "w") as f:
            json.dump(results, f, indent=1)
        import os
        os.replace(a.out + ".tmp", a.out)

    cfg = PhiConfig.from_json_file(a.config)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = PhiForCausalLM(cfg).to(torch.bfloat16).eval()
    results["params"] = sum(p.numel() for p in model.parameters())
    results["weights_mb"] = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6
    V = cfg.vocab_size
    g = torch.Generator(device="cuda").manual_seed(1)

    with torch.inference_mode():
        # Prefill 8 x 512.
        ids = torch.randint(0, V, (8, 512), device="cuda", generator=g)
        model(ids)
        torch.cuda.reset_peak_memory_stats()
        t = timed(lambda: model(ids, use_cache=False), repeats=3)
        results["prefill_8x512"] = {"tok_s": 8 * 512 / t, "seconds": t,
                                    "peak_cuda_allocated_mb": torch.cuda.max_memory_allocated() / 1e6}
        print(json.dumps({"prefill_8x512": results["prefill_8x512"]}), flush=True)
        save()

        def decode(batch, static):
            prompt = torch.randint(0, V, (batch, a.prompt), device="cuda", generator=g)
            kw = dict(do_sample=False, pad_token_id=0)
            if static:
                kw["cache_implementation"] = "static"

            def gen(n):
                return lambda: model.generate(prompt, max_new_tokens=n, min_new_tokens=n, **kw)
            for _ in range(2 if static else 1):  # warm-up (compilation with the static cache)
                gen(a.new)()
            torch.cuda.reset_peak_memory_stats()
            t_all = timed(gen(a.new), repeats=2)
            t_one = timed(gen(1), repeats=2)
            tok_s = batch * (a.new - 1) / max(t_all - t_one, 1e-9)
            return {"batch": batch, "prompt": a.prompt, "new_tokens": a.new, "decode_tok_s": tok_s,
                    "seconds_all": t_all, "seconds_first_token": t_one,
                    "peak_cuda_allocated_mb": torch.cuda.max_memory_allocated() / 1e6}

        for name, batch, static in [("decode_b1_eager", 1, False), ("decode_b8_eager", 8, False),
                                    ("decode_b1_static_compiled", 1, True), ("decode_b8_static_compiled", 8, True)]:
            if static and a.skip_compile:
                continue
            try:
                t0 = time.perf_counter()
                results[name] = decode(batch, static)
                results[name]["wall_s_with_warmup"] = time.perf_counter() - t0
            except Exception as e:  # a failed compile is reported, not fatal
                results[name] = {"error": f"{type(e).__name__}: {e}"[:500]}
            print(json.dumps({name: results[name]}), flush=True)
            save()


if __name__ == "__main__":
    main()
