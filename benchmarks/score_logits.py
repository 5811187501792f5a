#!/usr/bin/env python3
"""Perplexity from raw logits, one scorer for every model: ours (qcompress forward, a
safetensors file with float32 logits [B, T, V]) and llama.cpp's (windows_logits.mjs, raw
float32 [B, T, V]). Position i predicts token i + 1 of its window; the last position of each
window is not scored.
usage: score_logits.py IDS.bin NWIN T LOGITS (.safetensors or .bin)  -> prints {"ppl","tokens","nll"}
Also: score_logits.py gguf-bytes MODEL.gguf -> the bytes of its tensors' data."""
import json, struct, sys
import numpy as np


def read_safetensors_logits(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        meta = next(v for k, v in header.items() if k != "__metadata__" and k == "logits") if "logits" in header else \
            next(v for k, v in header.items() if k != "__metadata__")
        assert meta["dtype"] == "F32", meta["dtype"]
        a, b = meta["data_offsets"]
        f.seek(8 + n + a)
        return np.frombuffer(f.read(b - a), dtype=np.float32).reshape(meta["shape"])


def score(ids_path, nwin, t, logits_path):
    ids = np.fromfile(ids_path, dtype=np.int32).reshape(nwin, t)
    if logits_path.endswith(".safetensors"):
        logits = read_safetensors_logits(logits_path)
    else:
        logits = np.fromfile(logits_path, dtype=np.float32).reshape(nwin, t, -1)
    total, count = 0.0, 0
    for w in range(nwin):
        x = logits[w, :-1].astype(np.float64)
        if np.isnan(x).any():
            raise SystemExit(f"{logits_path}: window {w} has NaN logits")
        m = x.max(axis=1, keepdims=True)
        lse = (m[:, 0] + np.log(np.exp(x - m).sum(axis=1)))
        tgt = ids[w, 1:]
        total += float((lse - x[np.arange(t - 1), tgt]).sum())
        count += t - 1
    nll = total / count
    return {"ppl": float(np.exp(nll)), "nll": nll, "tokens": count}


GGML_SIZES = {0: (4, 1), 1: (2, 1), 8: (34, 32), 2: (18, 32)}  # F32, F16, Q8_0, Q4_0: (bytes, per values)


def gguf_tensor_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n]
        pos += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t in scalar:
            return take(scalar[t])
        if t == 8:
            return string()
        if t == 9:
            et = take("I")
            n = take("Q")
            return [value(et) for _ in range(n)]
        raise SystemExit(f"{path}: unknown GGUF value type {t}")

    assert data[:4] == b"GGUF", "not a GGUF file"
    pos = 4
    take("I")
    ntensors = take("Q")
    nkv = take("Q")
    for _ in range(nkv):
        string()
        value(take("I"))
    total = 0
    for _ in range(ntensors):
        string()
        nd = take("I")
        n = 1
        for _ in range(nd):
            n *= take("Q")
        typ = take("I")
        take("Q")
        b, per = GGML_SIZES[typ]
        total += n // per * b
    return total


if __name__ == "__main__":
    if sys.argv[1] == "gguf-bytes":
        print(gguf_tensor_bytes(sys.argv[2]))
    else:
        print(json.dumps(score(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
