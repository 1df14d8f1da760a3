#!/usr/bin/env bash
# Builds tools/quant-fixtures/make_quant_fixtures.c against llama.cpp's ggml (the build that
# ../shared/tools/peer/build-llama-cpp.sh makes in /tmp/llama) and writes test/fixtures/quant/ggml-reference.json.
# Usage: tools/quant-fixtures/make-quant-fixtures.sh [LLAMA_DIR]   (default /tmp/llama/src)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
llama="${1:-/tmp/llama/src}"
lib="$llama/build/bin"
out="$root/test/fixtures/quant"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cc -O2 -std=c11 -I"$llama/ggml/include" "$here/make_quant_fixtures.c" -o "$tmp/make_quant_fixtures" \
  -L"$lib" -lggml -lggml-base -lggml-cpu -lm -Wl,-rpath,"$lib"
"$tmp/make_quant_fixtures" "$out/ggml-reference.json"
echo "wrote $out/ggml-reference.json ($(du -h "$out/ggml-reference.json" | cut -f1))"
