#!/bin/sh
# Installs the npm packages the tests compare against: the tokenizer's peers gpt-3-encoder
# (GPT-2 ids) and @huggingface/tokenizers (tokenizers.js, reads our tokenizer.json); the
# official OpenAI client (its OpenAI and AzureOpenAI classes drive `qcompress serve` in test_serve;
# 6.x needs only Node's built-in fetch, no other package); and llama.cpp through node-llama-cpp
# with its prebuilt Linux x64 CPU build (test_gguf reads the GGUF export with it). Install
# scripts are not run: node-llama-cpp's would try to download or build llama.cpp, and the
# prebuilt package already holds it; the other optional platform builds are left out.
# Usage: scripts/npm-test-deps.sh BUILD_DIR
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
mkdir -p "$1/npm"
npm install --prefix "$1/npm" --no-audit --no-fund --ignore-scripts --omit=optional \
    gpt-3-encoder@1.1.4 @huggingface/tokenizers@0.2.0 openai@6.30.1 \
    node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1
