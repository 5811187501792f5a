#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/corpus/ from the repository's fixtures (small files
only). Run once from the repository root; the seeds are committed. Regression inputs of
crashes (corpus/<target>/regress-*) are written by hand, never by this script."""
import json, os, shutil, struct, sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out = os.path.join(root, "tests", "fuzz", "corpus")
SEP = b"\n#~#\n"


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(rel):
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()


def safetensors(tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, size in tensors:
        n = size
        for s in shape:
            n *= s
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        blobs.append(bytes((i * 7 + 3) & 0xFF for i in range(n)))
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


# --- safetensors ---
st_small = safetensors([("model.embed_tokens.weight", "F32", [4, 2], 4), ("model.final_layernorm.bias", "F16", [2], 2)],
                       {"format": "pt"})
put("safetensors", "small.safetensors", st_small)
put("safetensors", "dtypes.safetensors", safetensors([("a", "BF16", [3], 2), ("b", "I64", [1, 1], 8), ("c", "BOOL", [5], 1),
                                                       ("d", "U8", [0], 1), ("e", "F64", [], 8)]))
put("safetensors", "truncated.safetensors", st_small[:40])

# --- tokenizer: a small vocabulary cut from the demo model's (first 300 ids) ---
tok = json.loads(read("resources/models/demo-phi/tokenizer.json"))
vocab = {k: v for k, v in tok["model"]["vocab"].items() if v < 300}
merges = []
for m in tok["model"]["merges"]:
    a, b = m if isinstance(m, list) else m.split(" ", 1)
    if a in vocab and b in vocab and (a + b) in vocab:
        merges.append(m)
small = dict(tok)
small["model"] = dict(tok["model"], vocab=vocab, merges=merges)
small["added_tokens"] = [t for t in tok["added_tokens"] if t["id"] < 300]
small_text = json.dumps(small, ensure_ascii=False)
put("tokenizer_json", "small.json", small_text)
legacy = json.loads(small_text)
legacy["model"]["merges"] = [m if isinstance(m, str) else " ".join(m) for m in merges]
legacy["added_tokens"].append({"id": 300, "content": "<|user|>", "single_word": True, "lstrip": True, "rstrip": True,
                               "normalized": True, "special": False})
put("tokenizer_json", "string-merges-added.json", json.dumps(legacy, ensure_ascii=False))
merges_txt = "#version: 0.2\n" + "\n".join(m if isinstance(m, str) else " ".join(m) for m in merges) + "\n"
put("gpt2_files", "small.seed", json.dumps(vocab, ensure_ascii=False).encode() + SEP + merges_txt.encode())
for f in sorted(os.listdir(os.path.join(root, "tests/data/tokenizer"))):
    put("tokenizer_encode", f, read("tests/data/tokenizer/" + f))

# --- config.json, compression.json, checkpoint directories ---
tiny_cfg = read("tests/data/tiny-phi/config.json")
put("config_json", "tiny-phi.json", tiny_cfg)
put("config_json", "demo-phi.json", read("resources/models/demo-phi/config.json"))
put("config_json", "phi-1_5.json", read("tests/data/phi-1_5-config.json"))
comp = {"format_version": 1, "method": "tucker", "ratio": 0.7, "layers": [
    {"name": "model.layers.0.mlp.fc1.weight", "group": "block0.mlp", "method": "tucker", "ranks": [8, 8]},
    {"name": "model.layers.0.mlp.fc2.weight", "group": "block0.mlp", "method": "svd", "ranks": [4]}]}
put("compression_json", "tucker.json", json.dumps(comp, indent=2))
cfg = json.loads(tiny_cfg)
st_model = safetensors([("model.embed_tokens.weight", "F16", [8, 4], 2), ("model.layers.0.mlp.fc1.weight", "F16", [4, 4], 2),
                        ("lm_head.weight", "BF16", [8, 4], 2)])
put("checkpoint_dir", "single.seed", tiny_cfg + SEP + SEP + st_model + SEP + SEP + json.dumps(comp).encode() + SEP +
    small_text.encode())
shard1 = safetensors([("model.embed_tokens.weight", "F16", [8, 4], 2)])
shard2 = safetensors([("lm_head.weight", "F32", [8, 4], 4)])
index = {"metadata": {"total_size": 64 + 128}, "weight_map": {
    "model.embed_tokens.weight": "model-00001-of-00002.safetensors", "lm_head.weight": "model-00002-of-00002.safetensors"}}
put("safetensors_index", "sharded.seed", tiny_cfg + SEP + json.dumps(index).encode() + SEP + shard1 + SEP + shard2)

# --- documents ---
docs = "tests/data/docs/corpus/"
for target, files in {"doc_fortigate": ["fgt-azure-a.conf"], "doc_arm": ["fgt-ha-deploy.json"],
                      "doc_terraform": ["fgt-ha.tf"], "doc_yaml": ["fgt-vars.yaml"], "doc_html": ["branch-vpn.html"],
                      "doc_markdown": ["runbook-break-glass.md"], "doc_csv": ["fgt-inventory.csv"],
                      "doc_jsonl": ["qa-pairs.jsonl"],
                      "doc_text": ["automation-notes.txt", "runbook-break-glass.md", "fgt-ha.tf"]}.items():
    for f in files:
        put(target, f, read(docs + f))
for f in sorted(os.listdir(os.path.join(root, docs))):
    put("scrub", f, read(docs + f))
put("scrub", "secrets.txt", "set psksecret ENC AbCdEf0123456789==\npassword: Sup3r$ecretValue!\n"
    "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
    "-----END RSA PRIVATE KEY-----\nAKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    "admin@example.com 10.0.1.4 ghp_abcdefghijklmnopqrstuvwxyz0123456789\n")


def pdf(pages):
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        stream = "BT /F1 12 Tf 72 720 Td (" + text + ") Tj ET"
        objs.append("<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objs.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                    "/Contents %d 0 R >>" % len(objs))
        kids.append(len(objs))
    objs[1] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % k for k in kids), len(kids))
    body, offsets = "%PDF-1.4\n", []
    for i, o in enumerate(objs):
        offsets.append(len(body))
        body += "%d 0 obj\n%s\nendobj\n" % (i + 1, o)
    xref = len(body)
    body += "xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    body += "".join("%010d 00000 n \n" % o for o in offsets)
    body += "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return body


put("doc_pdf", "two-pages.pdf", pdf(["FortiGate HA on Azure: probe port 8008", "set psksecret ENC Zm9vYmFyYmF6MTIzNDU2Nzg5"]))

# --- server ---
chat = {"model": "demo-phi", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 16, "temperature": 0, "stop": ["\n\n"], "stream": True, "stream_options": {"include_usage": True}}
put("serve_request", "chat.seed", b"\x00" + json.dumps(chat).encode())
put("serve_request", "azure-chat.seed", b"\x02" + json.dumps({"messages": [{"role": "user", "content": "x"}], "n": 1,
                                                               "seed": 7, "top_p": 0.9}).encode())
put("serve_request", "completion.seed", b"\x01" + json.dumps({"model": "m", "prompt": "Once", "max_tokens": 8,
                                                                "stop": "User:", "ignore_eos": True}).encode())
put("serve_request", "completion-ids.seed", b"\x01" + json.dumps({"model": "m", "prompt": [1, 2, 3]}).encode())
templates = {
    "chatml.jinja": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    "phi3.jinja": "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + "
                  "message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] "
                  "+ '<|end|>\\n'}}{% else %}{{'<|assistant|>\\n' + message['content'] | trim + '<|end|>\\n'}}{% endif %}"
                  "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}",
    "loops.jinja": "{%- set ns = [] -%}{% for m in messages[1:] if true %}{{ loop.index }}/{{ loop.length }} {{ m.role | upper }}:"
                   " {{ m.content | tojson }}{% if not loop.last %}, {% endif %}{% endfor %}{# c #}{{ (messages | length) // 2 }}"
                   "{{ 'x' if messages[0]['role'] is defined else 'y' }}{{ [1, 2.5, none, {'a': 'b'}] | tojson }}"
                   "{% if messages[-1].role not in ['user'] %}{{ raise_exception('last must be user') }}{% endif %}",
}
for name, t in templates.items():
    put("chat_template", name, t)
put("tokenizer_config", "phi3.json", json.dumps({"bos_token": {"content": "<s>"}, "eos_token": "<|endoftext|>",
                                                 "chat_template": templates["phi3.jinja"]}))
put("tokenizer_config", "named.json", json.dumps({"chat_template": [{"name": "tool_use", "template": "{{ x }}"},
                                                                    {"name": "default", "template": templates["chatml.jinja"]}]}))
