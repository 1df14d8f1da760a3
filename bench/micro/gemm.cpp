// The prefill matmul (native/cpu/matmul_tile.h, packed F16 / BF16 path) on one thread: GFLOP/s of one call
// out[T, O] = x[T, K] . w[O, K]^T, against the FMA limit of bench/roofline.cpp. NM > 1 rotates over NM weight
// matrices (NM x O x K x 2 bytes: make it exceed the L3) so that the weights stream from memory as in a model.
// Build (each kernel with its own flags, as CMakeLists.txt does; isa 512 runs only where the CPU has AVX-512):
//   g++ -O3 -std=c++17 -c native/cpu/matmul_avx512.cpp -mavx512f -mavx512bw -mavx2 -mfma -mf16c -o /tmp/m512.o
//   g++ -O3 -std=c++17 -c native/cpu/matmul_avx2.cpp -mavx2 -mfma -mf16c -o /tmp/m2.o
//   g++ -O3 -std=c++17 -Inative/cpu bench/micro/gemm.cpp /tmp/m512.o /tmp/m2.o -o /tmp/gemm
// Run: [NM=120] [REPS=480] /tmp/gemm T K O [isa 512|2] [dtype 0 F16|1 BF16]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "matmul_tile.h"

namespace smoe::cpu {
MatmulFn matmul_avx512();
MatmulFn matmul_avx2();
}  // namespace smoe::cpu
using namespace smoe;

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
static int env(const char* name, int dflt) { return std::getenv(name) ? std::atoi(std::getenv(name)) : dflt; }

int main(int argc, char** argv) {
  if (argc < 4) { std::fprintf(stderr, "usage: gemm T K O [isa 512|2] [dtype 0|1]\n"); return 2; }
  const int T = std::atoi(argv[1]), K = std::atoi(argv[2]), O = std::atoi(argv[3]);
  const int isa = argc > 4 ? std::atoi(argv[4]) : 512, bf16 = argc > 5 ? std::atoi(argv[5]) : 0;
  const int nm = env("NM", 1), reps = env("REPS", 30);
  cpu::MatmulFn fn = isa == 512 ? cpu::matmul_avx512() : cpu::matmul_avx2();
  std::vector<float> x(size_t(T) * K), out(size_t(T) * O);
  std::vector<uint16_t> w(size_t(O) * K * nm);
  std::srand(1);
  for (float& v : x) v = float(std::rand() % 1000) / 1000.f - 0.5f;
  for (uint16_t& v : w) v = uint16_t(bf16 ? 0x3c00 + std::rand() % 0x80 : 0x3000 + std::rand() % 0x800);  // |v| < 1
  double best = 1e9, total = 0;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now();
    fn(out.data(), O, x.data(), T, K, w.data() + size_t(r % nm) * O * K, bf16 ? DType::BF16 : DType::F16, 0, O);
    const double d = now() - t0;
    best = std::min(best, d);
    if (r >= nm) total += d;  // after the first touch of every matrix
  }
  const double flop = 2.0 * T * K * O, avg = reps > nm ? total / (reps - nm) : best;
  double check = 0;
  for (float v : out) check += v;
  std::printf("T %d K %d O %d isa %d %s: best %.2f ms %.1f GFLOP/s, mean %.1f GFLOP/s (checksum %.6g)\n", T, K, O, isa,
              bf16 ? "bf16" : "f16", best * 1e3, flop / best / 1e9, flop / avg / 1e9, check);
}
