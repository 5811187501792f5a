// llama.cpp (through the npm package node-llama-cpp, prebuilt CPU build) on a GGUF file:
//   node llama_peer.mjs logits MODEL.gguf IDS_JSON OUT_JSON    raw logits at every position of
//        one sequence of token ids ({"rows": [[...V floats], ...], "n_vocab": V})
//   node llama_peer.mjs tokenize MODEL.gguf TEXTS_JSON OUT_JSON  llama.cpp's ids for each text
//        (no special tokens, no BOS) ({"ids": [[...], ...]})
// Env: QCW_NPM_DIR, where scripts/npm-test-deps.sh installed node-llama-cpp.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(path.join(process.env.QCW_NPM_DIR, 'noop.js'));
const entry = require.resolve('node-llama-cpp');
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

const [mode, modelPath, inJson, outJson] = process.argv.slice(2);
const input = JSON.parse(fs.readFileSync(inJson, 'utf8'));
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
let out;
if (mode === 'logits') {
    const context = await model.createContext({
        contextSize: Math.max(64, input.length + 8), batchSize: Math.max(64, input.length + 8), threads: 2,
        experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false,
    });
    const seq = context.getSequence();
    const res = await seq.controlledEvaluate(input.map(t => [t, { generateNext: { logits: true } }]));
    const rows = res.map(r => {
        const m = r.next.logits;
        const row = new Array(m.size);
        for (let v = 0; v < m.size; v++) row[v] = m.get(v);
        return row;
    });
    out = { n_vocab: rows[0].length, rows, llama_cpp: llama.llamaCppRelease };
    await context.dispose();
} else if (mode === 'tokenize') {
    out = { ids: input.map(text => Array.from(model.tokenize(text, false))) };
} else {
    console.error('usage: node llama_peer.mjs logits|tokenize MODEL.gguf IN.json OUT.json');
    process.exit(2);
}
fs.writeFileSync(outJson, JSON.stringify(out));
await model.dispose();
await llama.dispose();
