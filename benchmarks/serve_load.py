#!/usr/bin/env python3
"""Load on a running `qcompress serve`: N concurrent streaming completions (greedy, ignore_eos,
so every stream generates exactly --max-tokens), each with its own prompt. Prints one JSON
object: wall time, aggregate tokens/s, time to first token and per-stream decode tokens/s
(median and max), and whether every stream's text equals that prompt's answer run alone.
Standard library only; talks to the given base URL (loopback in this project's use)."""
import argparse, json, statistics, threading, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--base", required=True)        # http://127.0.0.1:PORT
ap.add_argument("--key", default="")
ap.add_argument("--model", required=True)
ap.add_argument("--clients", type=int, default=16)
ap.add_argument("--max-tokens", type=int, default=64)
a = ap.parse_args()

def request(prompt, stream):
    body = {"model": a.model, "prompt": prompt, "max_tokens": a.max_tokens, "temperature": 0,
            "ignore_eos": True, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    req = urllib.request.Request(a.base + "/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + a.key})
    return urllib.request.urlopen(req, timeout=600)

def stream(prompt, out):
    t0 = time.perf_counter()
    first = last = None
    text, tokens = "", 0
    with request(prompt, True) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            c = json.loads(line[6:])
            if c.get("usage"):
                tokens = c["usage"]["completion_tokens"]
            if c["choices"] and c["choices"][0]["text"]:
                now = time.perf_counter()
                first = first or now
                last = now
                text += c["choices"][0]["text"]
    out.update(ttft=first - t0, decode=(tokens - 1) / (last - first) if last > first else 0.0, tokens=tokens, text=text)

prompts = [f"Question {i}: how does the FortiGate cluster number {i} fail over on Azure?" for i in range(a.clients)]
alone = [json.load(request(p, False))["choices"][0]["text"] for p in prompts]
results = [dict() for _ in prompts]
threads = [threading.Thread(target=stream, args=(p, r)) for p, r in zip(prompts, results)]
t0 = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
wall = time.perf_counter() - t0
total = sum(r["tokens"] for r in results)
print(json.dumps({
    "clients": a.clients, "max_tokens": a.max_tokens, "wall_s": round(wall, 3), "tokens": total,
    "aggregate_tok_s": round(total / wall, 1),
    "ttft_s_median": round(statistics.median(r["ttft"] for r in results), 4),
    "ttft_s_max": round(max(r["ttft"] for r in results), 4),
    "decode_tok_s_median": round(statistics.median(r["decode"] for r in results), 1),
    "outputs_equal_alone": all(r["text"] == t for r, t in zip(results, alone)),
}))
