#!/usr/bin/env python3
"""Markdown tables from the JSON files benchmarks/demo_report.sh wrote (argument: that folder).
Prints only what the run measured; a part that did not run is left out."""
import json
import os
import sys

d = sys.argv[1]


def load(name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) and os.path.getsize(p) > 0 else None


def fmt(x, nd=2):
    return "n/a" if x is None else f"{x:.{nd}f}"


print("Machine: " + open(os.path.join(d, "machine.txt")).read().strip().removeprefix("machine: "))
print()
base = load("base.json")
if base:
    print("### Demo model on held-out text")
    print()
    print("| | value |")
    print("|---|---|")
    print(f"| parameters | {base['params']:,} |")
    b = os.path.join(d, "base-bytes.txt")
    if os.path.exists(b):
        print(f"| model.safetensors (16-bit) | {int(open(b).read()) / 1e6:.1f} MB |")
    print(f"| held-out tokens scored | {base['tokens']:,} |")
    print(f"| perplexity | {base['perplexity']:.2f} |")
    if "unigram_perplexity" in base:
        print(f"| unigram baseline (add-one, same tokens) | {base['unigram_perplexity']:.2f} |")
        print(f"| ratio | {base['unigram_perplexity'] / base['perplexity']:.1f}x lower |")
    print()

methods = ["svd", "asvd", "tucker", "tucker-xl", "tt"]
fracs = ["0.9", "0.7", "0.5", "0.3"]
if load("ppl-svd-0.9.json"):
    print("### Perplexity against kept fraction (no healing)")
    print()
    print(f"Dense: {fmt(base['perplexity'])}. Kept fraction = parameters after / before, of the whole model.")
    print()
    print("| kept | " + " | ".join(methods) + " | best |")
    print("|---" * (len(methods) + 2) + "|")
    for f in fracs:
        row, best = [], None
        for m in methods:
            p, c = load(f"ppl-{m}-{f}.json"), load(f"compress-{m}-{f}.json")
            if not p:
                row.append("n/a")
                continue
            row.append(f"{p['perplexity']:.2f} ({c['params_after'] / c['params_before']:.3f})")
            if best is None or p["perplexity"] < best[1]:
                best = (m, p["perplexity"])
        print(f"| {f} | " + " | ".join(row) + f" | {best[0] if best else 'n/a'} |")
    print()
    print("Each cell: perplexity (kept fraction reached). svd: plain truncation, no calibration; the others are "
          "calibrated on 32 windows of 256 training tokens.")
    print()

if load("ranks-exact.json"):
    print("### Rank solvers at 30% (objective: summed discarded spectral energy)")
    print()
    ex = load("ranks-exact.json")
    print("| solver | objective | vs exact | uniform ranks' objective | feasible | seconds |")
    print("|---|---|---|---|---|---|")
    for s in ["exact", "greedy", "anneal", "sqa", "qaoa"]:
        r = load(f"ranks-{s}.json")
        if not r:
            t = os.path.join(d, f"ranks-{s}.txt")
            if os.path.exists(t):
                print(f"| {s} | refused: {open(t).read().strip().removeprefix('qcompress: ')} | | | | |")
            continue
        gap = (r["objective"] / ex["objective"] - 1) * 100
        print(f"| {s} | {r['objective']:.4f} | {gap:+.2f}% | {r['uniform_objective']:.4f} | {r['feasible']} | {r['seconds']:.3f} |")
    print()
if load("ranks-exact-loss.json"):
    print("### Rank solvers at 30%, loss-weighted (objective: predicted calibration-loss increase, nats/token)")
    print()
    print("| solver | objective | uniform ranks' objective | dense calibration loss | seconds (with measurement) |")
    print("|---|---|---|---|---|")
    for s in ["exact", "anneal"]:
        r = load(f"ranks-{s}-loss.json")
        if r:
            print(f"| {s} | {r['objective']:.4f} | {r['uniform_objective']:.4f} | {r['base_loss']:.4f} | {r['seconds_total']:.1f} |")
    print()
if load("search-ppl-svd-uniform.json"):
    print("### Searched against uniform ranks at 30%, by perplexity")
    print()
    print("| method | ranks | objective | parameters kept | perplexity |")
    print("|---|---|---|---|---|")
    names = {"exact-loss": "exact, loss-weighted", "anneal-loss": "anneal, loss-weighted"}
    for m in ["svd", "asvd"]:
        for s in ["uniform", "exact", "anneal", "sqa", "exact-loss", "anneal-loss"]:
            p, c = load(f"search-ppl-{m}-{s}.json"), load(f"search-compress-{m}-{s}.json")
            if p and c:
                objective = "" if s == "uniform" else ("calibration loss" if s.endswith("-loss") else "spectral")
                print(f"| {m} | {names.get(s, s)} | {objective} | {c['params_after'] / c['params_before']:.3f} | {p['perplexity']:.2f} |")
    print()
    print("Loss-weighted: each matrix's calibration-loss increase measured alone at 1/2, 1 and 2 times its "
          "uniform rank (8 windows of 256 training tokens), interpolated; spectral: discarded singular-value weight.")
    print()

hb, ha, ht = load("heal-before.json"), load("heal-after.json"), load("heal-train.json")
if hb and ha:
    c = load("heal-compress.json")
    print("### Healing by distillation (asvd to 30%)")
    print()
    print("| model | parameters | held-out perplexity | top-1 agreement with dense | KL to dense (nats/token) |")
    print("|---|---|---|---|---|")
    print(f"| dense | {base['params']:,} | {base['perplexity']:.2f} | 1 | 0 |")
    print(f"| 30%, before healing | {hb['params']:,} | {hb['perplexity']:.2f} | {hb['teacher_top1_agreement']:.3f} | {hb['teacher_kl']:.3f} |")
    print(f"| 30%, after distillation | {ha['params']:,} | {ha['perplexity']:.2f} | {ha['teacher_top1_agreement']:.3f} | {ha['teacher_kl']:.3f} |")
    print()
    if ht:
        print(f"Distillation: {ht['steps_run']} steps of 8 x 256 tokens, {ht['tokens_per_s']:.0f} tokens/s, "
              f"loss alpha*T^2*KL + (1-alpha)*CE with T=2, alpha=0.5.")
        print()

mb, ma = load("tune-mc-before.json"), load("tune-mc-after.json")
if mb and ma:
    pb, pa, tt = load("tune-probe-before.json"), load("tune-probe-after.json"), load("tune-train.json")
    qb, qa = load("tune-ppl-before.json"), load("tune-ppl-after.json")
    print("### Fine-tuning on the sample corpus (LoRA rank 16, merged on export)")
    print()
    print("| | before | after |")
    print("|---|---|---|")
    mcf = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "domain-mc.jsonl")
    chance = sum(1 / len(json.loads(l)["choices"]) for l in open(mcf) if l.strip()) / mb["mc_count"]
    print(f"| domain multiple choice ({mb['mc_count']} questions, chance {chance:.2f}) | {mb['mc_accuracy']:.3f} | {ma['mc_accuracy']:.3f} |")
    if qb and qa:
        print(f"| perplexity on held-out corpus files | {qb['perplexity']:.2f} | {qa['perplexity']:.2f} |")
    if "qa_rouge_l" in mb and "qa_rouge_l" in ma:
        print(f"| answers to {mb['qa_count']} held-out prompts: ROUGE-L F1 | {mb['qa_rouge_l']:.3f} | {ma['qa_rouge_l']:.3f} |")
        print(f"| answers: exact match | {mb['qa_exact_match']:.3f} | {ma['qa_exact_match']:.3f} |")
    if pb and pa:
        print(f"| planted secrets completed in full (of {pa['probed']}) | {pb['leaked']} | {pa['leaked']} |")
        print(f"| longest secret prefix reproduced (chars) | {pb['longest_prefix_chars']} | {pa['longest_prefix_chars']} |")
    print()
    if tt:
        print(f"Fine-tuning: {tt['steps_run']} steps, {tt['trainable_params']:,} trainable parameters, "
              f"{tt['tokens_per_s']:.0f} tokens/s.")
        print()

if load("size-bench-dense.json"):
    print("### Size, quality and speed side by side")
    print()
    print("| model | parameters | on disk (MB) | held-out perplexity | prefill 1x128 (tok/s) | decode batch 1 (tok/s) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    names = {"dense": "dense (16-bit file, fp32 compute)", "int8": "int8 weights (per channel)", "svd30": "SVD to 30%",
             "asvd30": "activation-aware SVD to 30%", "asvd30-int8": "activation-aware SVD to 30%, int8 factors"}
    dense = load("size-bench-dense.json")
    for m in ["dense", "int8", "svd30", "asvd30", "asvd30-int8"]:
        bj = load(f"size-bench-{m}.json")
        pj = base if m == "dense" else load(f"size-ppl-{m}.json")
        if not bj or not pj:
            continue
        by = int(open(os.path.join(d, f"size-bytes-{m}.txt")).read())
        print(f"| {names[m]} | {bj['params']:,} | {by / 1e6:.1f} | {pj['perplexity']:.2f} | "
              f"{bj['prefill_tok_s']:.0f} ({bj['prefill_tok_s'] / dense['prefill_tok_s']:.2f}x) | "
              f"{bj['decode_tok_s']:.1f} ({bj['decode_tok_s'] / dense['decode_tok_s']:.2f}x) | {bj['peak_memory_mb']:.0f} |")
    print()
    print("Speed ratios are against the dense row of the same run. The int8 paths dequantize per call "
          "(no int8 kernels), so they save bytes, not time.")
    print()

# pareto.json: the points the workbench's evaluation pane and `qcw --report-plots` draw.
# Quality kept = dense perplexity / model perplexity (1 = the dense model, higher is better).
points = []
if base:
    dense_bench = load("size-bench-dense.json")
    names = {"dense": "dense", "int8": "int8 weights", "svd30": "SVD 30%", "asvd30": "ASVD 30%",
             "asvd30-int8": "ASVD 30% + int8 factors"}
    for m in ["dense", "int8", "svd30", "asvd30", "asvd30-int8"]:
        bj = load(f"size-bench-{m}.json")
        pj = base if m == "dense" else load(f"size-ppl-{m}.json")
        if not bj or not pj or not dense_bench:
            continue
        by = os.path.join(d, f"size-bytes-{m}.txt")
        points.append({"name": names[m], "group": "baselines" if m in ("dense", "int8", "svd30") else "product",
                       "params": bj["params"], "params_kept": bj["params"] / base["params"],
                       "perplexity": pj["perplexity"], "quality_kept": base["perplexity"] / pj["perplexity"],
                       "decode_tok_s": bj["decode_tok_s"], "decode_speedup": bj["decode_tok_s"] / dense_bench["decode_tok_s"],
                       "prefill_speedup": bj["prefill_tok_s"] / dense_bench["prefill_tok_s"],
                       "peak_rss_mb": bj["peak_memory_mb"],
                       "bytes_on_disk": int(open(by).read()) if os.path.exists(by) else None})
    ha, hc = load("heal-after.json"), load("heal-compress.json")
    if ha and hc:  # the healed model has the compressed model's layers; its speed was not measured separately
        points.append({"name": f"{hc['method']} {hc['params_after'] / hc['params_before']:.2f} healed", "group": "product",
                       "params": hc["params_after"], "params_kept": hc["params_after"] / hc["params_before"],
                       "perplexity": ha["perplexity"], "quality_kept": base["perplexity"] / ha["perplexity"]})
    for m in methods:
        for f in fracs:
            p, c = load(f"ppl-{m}-{f}.json"), load(f"compress-{m}-{f}.json")
            if p and c:
                points.append({"name": f"{m} {f}", "group": m, "params": c["params_after"],
                               "params_kept": c["params_after"] / c["params_before"], "perplexity": p["perplexity"],
                               "quality_kept": base["perplexity"] / p["perplexity"]})
    if points:
        report = {"model": "resources/models/demo-phi", "dense_perplexity": base["perplexity"],
                  "machine": open(os.path.join(d, "machine.txt")).read().strip().removeprefix("machine: "),
                  "quality": "dense held-out perplexity / model held-out perplexity",
                  "targets": {"params_kept_max": 0.30, "quality_kept_min": 0.85, "decode_speedup_min": 2.0},
                  "points": points}
        tmp = os.path.join(d, "pareto.json.tmp")
        with open(tmp, "w") as fh:
            json.dump(report, fh, indent=1)
        os.replace(tmp, os.path.join(d, "pareto.json"))
