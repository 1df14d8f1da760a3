// One-thread speed of the AVX2 quantized decode dot (quant_dot_x86.h, one token) for Q4_K, Q6_K and Q8_0 rows,
// with the weights in L1 (one row again and again) and streamed from memory (64 MB of rows, huge pages), against
// a plain read of the same bytes: tells a kernel bound by its instructions (the same GB/s from L1 as from
// memory) from one bound by memory. Build (from the repository root):
//   g++ -O3 -std=c++17 -mavx2 -mfma -mf16c -Inative/cpu bench/micro/quant_dot.cpp -o /tmp/quant_dot
// Run: /tmp/quant_dot [K=1024]. Adding -DSMOE_QUANT_PREFETCH_AHEAD=0 builds the kernels without their prefetch
// (quant_dot_x86.h), for the figures without it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <sys/mman.h>

#include "quant_dot_x86.h"

using namespace smoe::cpu;
namespace {
struct MaddUbs {  // as quant_dot_avx2.cpp
  static __m256i dot(__m256i u, __m256i s) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)); }
  static __m256i dot_scaled(__m256i acc, __m256i u, __m256i s, __m256i sc) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), sc));
  }
};
using D = x86::Dot<MaddUbs>;
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void set_scales(BlockQ4_K& b) { b.d = 0x2000; b.dmin = 0x1c00; }  // fp16 2^-7, 2^-8
void set_scales(BlockQ6_K& b) { b.d = 0x2000; }
void set_scales(BlockQ8_0& b) { b.d = 0x2000; }

template <class WB, class AB>
void bench(const char* name, int64_t K, int64_t elems) {
  const int64_t nb = K / elems;
  const size_t row = size_t(nb) * sizeof(WB), total = size_t(64) << 20, rows = total / row;
  auto* mem = static_cast<uint8_t*>(std::aligned_alloc(2 << 20, rows * row + (2 << 20)));
  madvise(mem, rows * row, MADV_HUGEPAGE);
  for (size_t i = 0; i < rows * row; ++i) mem[i] = uint8_t(i * 2654435761u >> 13);
  // Normal scales: random bytes would make fp16 NaN / subnormal scales, and subnormal products cost a microcode
  // assist per FMA.
  for (size_t i = 0; i < rows * size_t(nb); ++i) set_scales(*reinterpret_cast<WB*>(mem + i * sizeof(WB)));
  std::vector<AB> x(static_cast<size_t>(nb));
  std::memset(x.data(), 1, sizeof(AB) * x.size());
  for (AB& b : x) b.d = 0.01f;
  const AB* xs[1] = {x.data()};
  volatile float sink = 0;
  auto run = [&](bool l1, size_t ahead = 0) {
    double best = 1e9;
    for (int r = 0; r < 5; ++r) {
      const double t = now();
      float s = 0, o;
      for (size_t i = 0; i < rows; ++i) {
        if (ahead)  // the row `ahead` bytes on, one prefetch per cache line
          for (size_t b = 0; b < row; b += 64) __builtin_prefetch(mem + i * row + ahead + b, 0, 3);
        D::dot<1>(reinterpret_cast<const WB*>(mem + (l1 ? 0 : i * row)), xs, nb, &o);
        s += o;
      }
      sink = sink + s;
      best = std::min(best, now() - t);
    }
    return double(rows * row) / best / 1e9;
  };
  double best = 1e9;
  for (int r = 0; r < 5; ++r) {
    const double t = now();
    __m256i a = _mm256_setzero_si256();
    for (size_t i = 0; i + 32 <= rows * row; i += 32) a = _mm256_add_epi64(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mem + i)));
    sink = sink + float(_mm256_extract_epi64(a, 0));
    best = std::min(best, now() - t);
  }
  std::printf("%-5s K=%ld  from L1 %5.1f GB/s   from memory %5.1f GB/s   plain read %5.1f GB/s   prefetch ahead 1/2/4/8 KB:", name,
              long(K), run(true), run(false), double(rows * row) / best / 1e9);
  for (size_t a : {1024, 2048, 4096, 8192}) std::printf(" %5.1f", run(false, a));
  std::printf(" GB/s\n");
  std::free(mem);
}
}  // namespace

int main(int argc, char** argv) {
  const int64_t K = argc > 1 ? std::atoll(argv[1]) : 1024;
  bench<BlockQ4_K, BlockQ8_K>("Q4_K", K, QK_K);
  bench<BlockQ6_K, BlockQ8_K>("Q6_K", K, QK_K);
  bench<BlockQ8_0, ActQ8_0>("Q8_0", K, QK);
}
