#!/usr/bin/env bash
# Makes the quantized-weight fixtures from llama.cpp itself (the build of ../shared/tools/peer/build-llama-cpp.sh,
# default /tmp/llama/src; needs python3 + numpy for gguf-py):
#   test/fixtures/quant/ggml-reference.json   ggml's dequantization and CPU mul_mat per type
#                                             (make_quant_fixtures.c, linked against libggml);
#   test/fixtures/gguf-quant/                 small random Mixtral GGUFs (2 layers, 4 experts top-2, stacked
#                                             experts; write_random_mixtral.py) quantized by llama-quantize, each
#                                             with llama.cpp's logits at every prompt position and its greedy 16
#                                             tokens (llama_logits.cpp, against libllama, CPU, 2 threads):
#     mixtral-h256  hidden 256, intermediate 256: every K type at its own block size (the K_M mixes put Q6_K /
#                   Q5_K / Q4_K / Q8_0 side by side, as in the Mixtral files people download);
#     mixtral-h160  hidden 160, intermediate 96: rows not a multiple of 256, so llama-quantize writes its
#                   fall-back types (Q2_K / Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0).
# Usage: tools/quant-fixtures/make-quant-fixtures.sh [LLAMA_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
llama="${1:-/tmp/llama/src}"
bin="$llama/build/bin"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$root/test/fixtures/quant"
cc -O2 -std=c11 -I"$llama/ggml/include" "$here/make_quant_fixtures.c" -o "$tmp/make_quant_fixtures" \
  -L"$bin" -lggml -lggml-base -lggml-cpu -lm -Wl,-rpath,"$bin"
"$tmp/make_quant_fixtures" "$root/test/fixtures/quant/ggml-reference.json"

out="$root/test/fixtures/gguf-quant"
mkdir -p "$out"
c++ -O2 -std=c++17 -I"$llama/include" -I"$llama/ggml/include" "$here/llama_logits.cpp" -o "$tmp/llama_logits" \
  -L"$bin" -lllama -lggml -lggml-base -Wl,-rpath,"$bin"
PROMPT="1 265 300 17 42 280 301 99 310 7 270"
make_set() {  # name hidden intermediate types...
  local name="$1" hidden="$2" inter="$3"; shift 3
  GGUF_PY="$llama/gguf-py" python3 "$here/write_random_mixtral.py" "$tmp/$name-f16.gguf" "$hidden" "$inter" 1234
  for t in "$@"; do
    local f="$out/$name-$t.gguf"
    "$bin/llama-quantize" "$tmp/$name-f16.gguf" "$f" "$t" 2 > "$tmp/quantize-$name-$t.log" 2>&1 ||
      { cat "$tmp/quantize-$name-$t.log"; exit 1; }
    "$tmp/llama_logits" "$f" $PROMPT > "$out/$name-$t.llama-logits.json"
    echo "$name-$t: $(du -h "$f" | cut -f1)"
  done
}
# (q4_1 and q5_1 in the narrow set only, to keep the fixtures near 15 MB.)
make_set mixtral-h256 256 256 q8_0 q4_0 q5_0 q2_k q3_k_m q4_k_m q5_k_m q6_k
make_set mixtral-h160 160 96 q4_1 q5_1 q2_k q4_k_m q5_k_m q6_k
du -sh "$root/test/fixtures/quant" "$out"
