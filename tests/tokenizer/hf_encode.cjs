// Second peer for test_tokenizer: loads a tokenizer.json with Hugging Face's tokenizers.js
// (@huggingface/tokenizers) and prints, per file, its array of token ids as one JSON array.
// Usage: node hf_encode.cjs NPM_PREFIX TOKENIZER_JSON FILE...
'use strict';
const fs = require('fs');
const path = require('path');
const [prefix, tokenizerPath, ...files] = process.argv.slice(2);
if (!prefix || !tokenizerPath) {
  console.error('usage: node hf_encode.cjs NPM_PREFIX TOKENIZER_JSON FILE...');
  process.exit(2);
}
let Tokenizer;
try {
  ({ Tokenizer } = require(path.join(prefix, 'node_modules', '@huggingface', 'tokenizers')));
} catch (e) {
  console.error(`@huggingface/tokenizers is not installed under ${prefix} (run scripts/npm-test-deps.sh BUILD_DIR)`);
  process.exit(3);
}
const tok = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerPath, 'utf8')), {});
const out = files.map((f) => tok.encode(fs.readFileSync(f, 'utf8'), { add_special_tokens: false }).ids);
process.stdout.write(JSON.stringify(out) + '\n');
