#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ (CPU only; the
# normal build/ is untouched) and runs, against it, the test suite and the fuzz corpus (the kept
# regression cases and a fresh seeded run), then a short soak with LeakSanitizer on. Node is not
# instrumented, so libasan is preloaded.
# Reports go to build-asan/reports/ (one file per process that found something); exit 1 if any.
#   scripts/asan-test.sh [--no-build] [--fuzz-cases N] [--no-soak] [test files...]
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=1; FUZZ_CASES=300; SOAK=1; TESTS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --fuzz-cases) FUZZ_CASES="$2"; shift ;;
    --no-soak) SOAK=0 ;;
    *) TESTS+=("$1") ;;
  esac
  shift
done

OUT=build-asan
if [ "$BUILD" = 1 ]; then
  SMOE_CUDA=0 node node_modules/cmake-js/bin/cmake-js compile --out "$OUT" --CDSMOE_SANITIZE=ON --CDSMOE_CUDA=OFF --log-level warn
fi
ADDON="$PWD/$OUT/Release/smoe.node"
[ -f "$ADDON" ] || { echo "asan-test: $ADDON is missing (run without --no-build)"; exit 2; }

REPORTS="$PWD/$OUT/reports"
rm -rf "$REPORTS"; mkdir -p "$REPORTS"
export SMOE_ADDON="$ADDON"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
# detect_leaks=0 for the suite and the fuzz run (their many short-lived processes, worker threads killed on
# timeouts); the soak step turns it on.
# allow_user_segv_handler=1: V8 installs its own SIGSEGV handler. halt_on_error: the first error ends the process
# (a test or fuzz case then fails as a crash) and its report is in $REPORTS.
export ASAN_OPTIONS="detect_leaks=0:allow_user_segv_handler=1:halt_on_error=1:detect_odr_violation=0:log_path=$REPORTS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan"

status=0
if [ ${#TESTS[@]} -eq 0 ]; then TESTS=(test/); fi
echo "asan-test: test suite (${TESTS[*]}) with $ADDON"
node --test --test-reporter=dot "${TESTS[@]}" || status=1
if [ "$FUZZ_CASES" -gt 0 ]; then
  echo "asan-test: fuzz corpus: $FUZZ_CASES cases per format (seed 7) and the kept regression cases"
  node fuzz/run.mjs --cases "$FUZZ_CASES" --seed 7 --no-keep --timeout-ms 120000 || status=1
fi

if [ "$SOAK" = 1 ]; then
  # A short soak with LeakSanitizer on: node itself reports no leaks here, so any report is smoe's. RSS is
  # not bounded there (it holds ASan's quarantine of freed blocks); heap, external and handles are.
  echo "asan-test: short soak (300 calls, 60 load/close cycles) with LeakSanitizer"
  ASAN_OPTIONS="${ASAN_OPTIONS/detect_leaks=0/detect_leaks=1}" node --expose-gc soak/run.mjs --calls 300 --cycles 60 --every 100 --no-rss-bound || status=1
fi

n=$(find "$REPORTS" -type f | wc -l)
if [ "$n" -gt 0 ]; then
  echo "asan-test: $n sanitizer report(s) in $REPORTS:"
  for f in "$REPORTS"/*; do echo "== $f"; head -40 "$f"; done
  status=1
else
  echo "asan-test: no sanitizer reports"
fi
exit $status
