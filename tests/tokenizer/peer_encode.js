// Peer for test_tokenizer: encodes each file with the gpt-3-encoder npm package and prints
// one JSON array holding, per file, its array of token ids.
// Usage: node peer_encode.js NPM_PREFIX FILE...   (package in NPM_PREFIX/node_modules)
'use strict';
const fs = require('fs');
const path = require('path');
const [prefix, ...files] = process.argv.slice(2);
if (!prefix) {
  console.error('usage: node peer_encode.js NPM_PREFIX FILE...');
  process.exit(2);
}
let encoder;
try {
  encoder = require(path.join(prefix, 'node_modules', 'gpt-3-encoder'));
} catch (e) {
  console.error(`gpt-3-encoder is not installed under ${prefix} (run scripts/npm-test-deps.sh BUILD_DIR)`);
  process.exit(3);
}
// Invalid UTF-8 becomes U+FFFD per maximal ill-formed subpart (WHATWG decoding).
const out = files.map((f) => encoder.encode(fs.readFileSync(f, 'utf8')));
process.stdout.write(JSON.stringify(out) + '\n');
