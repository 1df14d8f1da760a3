#!/usr/bin/env bash
# Makes test/fixtures/quantize/: what llama.cpp's convert_hf_to_gguf.py + llama-quantize write for three small
# Mixtral checkpoints (tiny-mixtral from the shared fixtures; qz-mixtral-e8 / -e4 written by
# tools/quantize-fixtures/random-mixtral.mjs, which the tests run again to get the same weights), for every
# mix smoe writes and, for qz-mixtral-e8, every quantizer on its own (--pure). test/quantize.test.mjs checks
# smoe's quantizer and `smoe quantize` against them byte for byte. Then checks that llama.cpp loads and runs
# files smoe wrote (llama-bench, llama-cli), which must not error.
# Needs llama.cpp built from node-llama-cpp's bundled source (../shared/tools/peer/build-llama-cpp.sh) and
# /usr/bin/python3 with torch and numpy (the converter; shims in tools/quantize-fixtures/pyshim stand in for
# transformers' AutoConfig/AutoTokenizer, sentencepiece and tqdm, which it imports but this path does not need).
#   LLAMA_DIR=/tmp/llama/src tools/make-quantize-fixtures.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LLAMA=${LLAMA_DIR:-/tmp/llama/src}
BIN=$LLAMA/build/bin
PY=${PYTHON:-/usr/bin/python3}
OUT=$ROOT/test/fixtures/quantize
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export LD_LIBRARY_PATH=$BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LLAMA_BUILD=$("$BIN/llama-quantize" --version 2>&1 | grep -m1 -o 'version: .*' || echo unknown)

MIXES="Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K F16 BF16"
PURE="Q8_0:Q8_0 Q4_0:Q4_0 Q4_1:Q4_1 Q5_0:Q5_0 Q5_1:Q5_1 Q2_K:Q2_K Q3_K:Q3_K_S Q4_K:Q4_K_S Q5_K:Q5_K_S Q6_K:Q6_K"

(cd "$ROOT" && npm run build:ts >/dev/null)
node "$ROOT/tools/quantize-fixtures/random-mixtral.mjs" "$WORK/models"
cp -r "$ROOT/test/fixtures/tiny-mixtral" "$WORK/models/tiny-mixtral"
for m in tiny-mixtral qz-mixtral-e8 qz-mixtral-e4; do
  (cd "$LLAMA" && PYTHONPATH="$ROOT/tools/quantize-fixtures/pyshim:$LLAMA/gguf-py:$LLAMA" \
    "$PY" "$ROOT/tools/quantize-fixtures/pyshim/run_convert.py" convert_hf_to_gguf.py "$WORK/models/$m" \
    --outtype bf16 --outfile "$WORK/$m-bf16-src.gguf" >"$WORK/convert-$m.log" 2>&1) || { cat "$WORK/convert-$m.log"; exit 1; }
  for t in $MIXES; do
    "$BIN/llama-quantize" "$WORK/$m-bf16-src.gguf" "$WORK/$m-$t.gguf" "$t" 2 >"$WORK/q.log" 2>&1 || { cat "$WORK/q.log"; exit 1; }
  done
done
for p in $PURE; do
  "$BIN/llama-quantize" --pure "$WORK/qz-mixtral-e8-bf16-src.gguf" "$WORK/qz-mixtral-e8-pure-${p%%:*}.gguf" "${p##*:}" 2 >"$WORK/q.log" 2>&1 \
    || { cat "$WORK/q.log"; exit 1; }
done
rm -rf "$OUT" && node "$ROOT/tools/quantize-fixtures/record.mjs" "$WORK" "$OUT"

# llama.cpp loads and runs what smoe writes (from the HF folder and from the converter's GGUF).
for t in q4_k_m q8_0 q2_k; do
  node "$ROOT/dist/cli/main.js" quantize "$WORK/models/qz-mixtral-e8" "$WORK/smoe-e8-$t.gguf" --type "$t"
  cmp "$WORK/smoe-e8-$t.gguf" "$WORK/qz-mixtral-e8-${t^^}.gguf"; echo "smoe quantize --type $t: identical to llama-quantize's file"
  "$BIN/llama-bench" -m "$WORK/smoe-e8-$t.gguf" -p 8 -n 4 -r 1 -t 2 -o csv >/dev/null
  echo "llama-bench ran $WORK/smoe-e8-$t.gguf (-p 8 -n 4)"
done
node "$ROOT/dist/cli/main.js" quantize "$WORK/tiny-mixtral-bf16-src.gguf" "$WORK/smoe-tiny-q4_k_m.gguf" --type q4_k_m
cmp "$WORK/smoe-tiny-q4_k_m.gguf" "$WORK/tiny-mixtral-Q4_K_M.gguf"; echo "smoe quantize GGUF -> q4_k_m: identical to llama-quantize's file"
"$BIN/llama-cli" -m "$WORK/smoe-e8-q4_k_m.gguf" -p "Hello" -n 4 -st --temp 0 -t 2 </dev/null >"$WORK/cli.log" 2>&1 \
  || { tail -20 "$WORK/cli.log"; exit 1; }
echo "llama-cli generated 4 tokens from $WORK/smoe-e8-q4_k_m.gguf"
du -sh "$OUT"
