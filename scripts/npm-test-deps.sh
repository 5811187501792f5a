#!/bin/sh
# Installs the npm packages the tests compare against: the tokenizer's peers gpt-3-encoder
# (GPT-2 ids) and @huggingface/tokenizers (tokenizers.js, reads our tokenizer.json); and the
# official OpenAI client (its OpenAI and AzureOpenAI classes drive `qcompress serve` in test_serve;
# 6.x needs only Node's built-in fetch, no other package).
# Usage: scripts/npm-test-deps.sh BUILD_DIR
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
mkdir -p "$1/npm"
npm install --prefix "$1/npm" --no-audit --no-fund gpt-3-encoder@1.1.4 @huggingface/tokenizers@0.2.0 openai@6.30.1
