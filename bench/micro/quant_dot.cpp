// One-thread speed of the quantized decode dots (quant_dot_x86.h, one token) for Q4_K, Q6_K and Q8_0 rows and
// for the interleaved Q4_K / Q8_0 groups of 8 rows the CPU backend makes at load (repack.h), with the weights in
// L1 (one row or group again and again) and streamed from memory (1 GB, huge pages), against a plain read of
// the same bytes: tells a kernel bound by its instructions (the same GB/s from L1 as from memory) from one
// bound by memory. Build (from the repository root), the AVX2 primitive or the VNNI one:
//   g++ -O3 -std=c++17 -mavx2 -mfma -mf16c -Inative/cpu bench/micro/quant_dot.cpp -o /tmp/quant_dot
//   g++ -O3 -std=c++17 -mavx2 -mfma -mf16c -mavx512vnni -mavx512vl -DSMOE_MICRO_VNNI -Inative/cpu \
//       bench/micro/quant_dot.cpp -o /tmp/quant_dot_vnni
// Run: /tmp/quant_dot [K=1024] [buffer MB=1024]. Adding -DSMOE_QUANT_PREFETCH_AHEAD=0 builds the kernels without their prefetch
// (quant_dot_x86.h), for the figures without it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <sys/mman.h>

#include "quant_dot_x86.h"
#if defined(SMOE_MICRO_VNNI)
#include "quant_prim_vnni.h"
using D = smoe::cpu::x86::Dot<smoe::cpu::x86::Vnni>;
constexpr const char* kPrim = "VNNI";
#else
#include "quant_prim_avx2.h"
using D = smoe::cpu::x86::Dot<smoe::cpu::x86::MaddUbs>;
constexpr const char* kPrim = "AVX2";
#endif

using namespace smoe::cpu;
namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void set_scales(BlockQ4_K& b) { b.d = 0x2000; b.dmin = 0x1c00; }  // fp16 2^-7, 2^-8
void set_scales(BlockQ6_K& b) { b.d = 0x2000; }
void set_scales(BlockQ8_0& b) { b.d = 0x2000; }
void set_scales(BlockQ4_Kx8& b) { for (int r = 0; r < 8; ++r) { b.d[r] = 0x2000; b.dmin[r] = 0x1c00; } }
void set_scales(BlockQ8_0x8& b) { for (int r = 0; r < 8; ++r) b.d[r] = 0x2000; }
// One token: the row-at-a-time kernel gives one output, the interleaved one eight.
template <class WB> constexpr bool kGroup = sizeof(WB) == sizeof(BlockQ4_Kx8) || sizeof(WB) == sizeof(BlockQ8_0x8);
template <class WB, class AB>
float dot1(const WB* w, const AB* const* x, int64_t nb) {
  if constexpr (kGroup<WB>) {
    float o[8];
    D::dot8<1>(w, x, nb, o);
    return o[0] + o[7];
  } else {
    float o;
    D::dot<1>(w, x, nb, &o);
    return o;
  }
}

size_t kBufferMB = 1024;  // far past the last-level cache (this Xeon's VM reports 480 MB of L3)

template <class WB, class AB>
void bench(const char* name, int64_t K, int64_t elems) {
  const int64_t nb = K / elems;
  const size_t row = size_t(nb) * sizeof(WB), total = size_t(kBufferMB) << 20, rows = total / row;
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
      float s = 0;
      for (size_t i = 0; i < rows; ++i) {
        if (ahead)  // the row `ahead` bytes on, one prefetch per cache line
          for (size_t b = 0; b < row; b += 64) __builtin_prefetch(mem + i * row + ahead + b, 0, 3);
        s += dot1(reinterpret_cast<const WB*>(mem + (l1 ? 0 : i * row)), xs, nb);
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
  std::printf("%s %-7s K=%ld  from L1 %5.1f GB/s   from memory %5.1f GB/s   plain read %5.1f GB/s   prefetch ahead 1/2/4/8 KB:", kPrim, name,
              long(K), run(true), run(false), double(rows * row) / best / 1e9);
  for (size_t a : {1024, 2048, 4096, 8192}) std::printf(" %5.1f", run(false, a));
  std::printf(" GB/s\n");
  std::free(mem);
}
}  // namespace

int main(int argc, char** argv) {
  const int64_t K = argc > 1 ? std::atoll(argv[1]) : 1024;
  if (argc > 2) kBufferMB = size_t(std::atoll(argv[2]));
  bench<BlockQ4_K, BlockQ8_K>("Q4_K", K, QK_K);
  bench<BlockQ6_K, BlockQ8_K>("Q6_K", K, QK_K);
  bench<BlockQ8_0, ActQ8_0>("Q8_0", K, QK);
  bench<BlockQ4_Kx8, BlockQ8_K>("Q4_Kx8", K, QK_K);  // a "row" here is a group of 8 rows
  bench<BlockQ8_0x8, ActQ8_0>("Q8_0x8", K, QK);
}
