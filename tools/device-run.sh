#!/usr/bin/env bash
# The CUDA checks on a GPU machine that has nvcc, cmake and ninja but no Node (the lent device machine):
# unpack a carried Node binary, build the addon with CUDA, run the CUDA and parity tests, run the GPU benchmark.
#
# Here (a machine with Node), once:   bash tools/device-run.sh --prepare
#   writes .device/node.xz (this machine's Node binary, xz-compressed) and .device/node_modules (only the
#   packages the build, the tests and the benchmark load). .device/ and dist/ are git-ignored, so carry them:
#   device run with carry [".device", "dist"] and the command `bash tools/device-run.sh` (add --no-bench to
#   skip the ~12 GB benchmark checkpoint, --bench-only to skip the tests). Logs go to $OUT (else /tmp/smoe-out).
# Size: the tracked tree is ~44 MB (test fixtures), node.xz ~20-25 MB, node_modules ~3 MB: check the sum
#   against the device tool's 64 MiB limit before calling (du -sh .device dist).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${1:-}" = "--prepare" ]; then
  set -e
  mkdir -p .device
  node_bin=$(readlink -f "$(command -v node)")
  echo "compressing $node_bin ($(node --version)) -> .device/node.xz"
  xz -T0 -9e -c "$node_bin" > .device/node.xz
  rm -rf .device/node_modules && mkdir -p .device/node_modules
  # The dependency closure of what the device run loads.
  node -e '
    const fs = require("fs"), path = require("path");
    const seen = new Set(), todo = ["cmake-js", "node-addon-api", "node-api-headers", "node-gyp-build", "@huggingface/jinja"];
    while (todo.length) {
      const n = todo.pop();
      if (seen.has(n)) continue;
      seen.add(n);
      const pj = JSON.parse(fs.readFileSync(path.join("node_modules", n, "package.json"), "utf8"));
      for (const d of Object.keys(pj.dependencies ?? {})) todo.push(d);
    }
    console.log([...seen].join("\n"));
  ' | while read -r pkg; do
    mkdir -p ".device/node_modules/$(dirname "$pkg")"
    cp -r "node_modules/$pkg" ".device/node_modules/$pkg"
  done
  [ -d node_modules/.bin ] && mkdir -p .device/node_modules/.bin
  du -sh .device/node.xz .device/node_modules dist
  exit 0
fi

BENCH=1 TESTS=1
for a in "$@"; do
  case "$a" in
    --no-bench) BENCH=0 ;;
    --bench-only) TESTS=0 ;;
  esac
done
OUTDIR=${OUT:-/tmp/smoe-out}
mkdir -p "$OUTDIR"

# Node, from the carried binary.
mkdir -p /tmp/nb
xz -dc .device/node.xz > /tmp/nb/node && chmod +x /tmp/nb/node || { echo "no .device/node.xz (run --prepare here, carry .device)"; exit 2; }
export PATH=/tmp/nb:$PATH
[ -e node_modules ] || ln -s "$ROOT/.device/node_modules" node_modules
[ -f dist/index.js ] || { echo "no dist/ (run npm run build:ts here and carry dist)"; exit 2; }
echo "node $(node --version); $(nvcc --version | tail -1); $(cmake --version | head -1)"
nvidia-smi -L || true

# Build the addon with CUDA (cmake-js drives CMake; the status line says whether CUDA is in).
start=$(date +%s)
if ! node node_modules/cmake-js/bin/cmake-js compile --out build 2>&1 | tee "$OUTDIR/build.log"; then
  echo "cmake-js failed; building with cmake directly"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$ROOT/build/Release" \
    "-DCMAKE_JS_INC=$ROOT/node_modules/node-api-headers/include" 2>&1 | tee -a "$OUTDIR/build.log"
  cmake --build build 2>&1 | tee -a "$OUTDIR/build.log" || exit 3
fi
echo "build took $(( $(date +%s) - start )) s" | tee -a "$OUTDIR/build.log"
node -e "console.log(JSON.stringify(require('./build/Release/smoe.node').backends(), null, 1))" | tee "$OUTDIR/backends.json"

rc=0
if [ "$TESTS" = 1 ]; then
  node --test --test-reporter=spec test/cuda.test.mjs test/parity.test.mjs 2>&1 | tee "$OUTDIR/test.log"
  rc=${PIPESTATUS[0]}
fi
if [ "$BENCH" = 1 ]; then
  node bench/gpu.mjs --model /tmp/smoe-bench-model 2>&1 | tee "$OUTDIR/bench.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=4
  cp bench/RESULTS.md "$OUTDIR/RESULTS.md" 2>/dev/null || true
fi
exit "$rc"
