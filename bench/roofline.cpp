// The physical limits the CPU benchmark is measured against, on T threads:
//   read bandwidth: each thread sums its own slice of a buffer far larger than the caches (GB/s)
//   FMA peak: each thread runs independent fused multiply-add chains (GFLOP/s), for AVX2 and AVX-512
//   int8 MAC peak: each thread runs independent vpmaddubsw + vpmaddwd + vpaddd chains (GMAC/s, AVX2)
// Build: g++ -O3 -pthread bench/roofline.cpp -o roofline   Run: ./roofline [threads]
#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

template <class F>
double run_threads(int T, F fn) {
  std::vector<std::thread> ts;
  std::atomic<int> ready{0};
  auto t0 = Clock::now();
  for (int t = 0; t < T; ++t) ts.emplace_back([&, t] { fn(t); });
  for (auto& th : ts) th.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

__attribute__((target("avx2"))) float sum_avx2(const float* p, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

template <int W>
__attribute__((target("avx512f,avx2,fma"))) double fma_chains(long iters) {
  // 12 independent accumulators hide the FMA latency (4 cycles x 2-3 pipes).
  if constexpr (W == 16) {
    __m512 a[12], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(float(i));
    for (long it = 0; it < iters; ++it)
      for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
    float s = 0; for (int i = 0; i < 12; ++i) s += _mm512_reduce_add_ps(a[i]);
    return s;
  } else {
    __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(float(i));
    for (long it = 0; it < iters; ++it)
      for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
    __m256 s = a[0];
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
    float out[8]; _mm256_storeu_ps(out, s);
    return out[0] + out[7];
  }
}

// The int8 multiply-accumulate peak of the quantized dot products' inner step (quant_dot_x86.h dot_scaled):
// vpmaddubsw (32 u8 x s8 products, summed in pairs to int16), vpmaddwd by int16 scales (pairs to int32), and
// vpaddd into the accumulator; 12 independent accumulators. Counts 32 MACs per step.
__attribute__((target("avx2"))) int maddubs_chains(long iters) {
  __m256i a[12], u = _mm256_set1_epi8(7), s = _mm256_set1_epi8(-3), sc = _mm256_set1_epi16(5);
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_epi32(i);
  for (long it = 0; it < iters; ++it) {
    for (int i = 0; i < 12; ++i) a[i] = _mm256_add_epi32(a[i], _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), sc));
    u = _mm256_add_epi8(u, _mm256_set1_epi8(1));  // keeps the products from being hoisted out of the loop
  }
  __m256i t = a[0];
  for (int i = 1; i < 12; ++i) t = _mm256_add_epi32(t, a[i]);
  return _mm256_extract_epi32(t, 0);
}

int main(int argc, char** argv) {
  const int T = argc > 1 ? std::atoi(argv[1]) : 2;
  __builtin_cpu_init();
  // Read bandwidth over 2 GiB (well past any cache), best of 5.
  const size_t n = (size_t(2) << 30) / sizeof(float);
  float* buf = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
  std::memset(buf, 1, n * sizeof(float));
  double best = 1e9;
  volatile float sink = 0;
  for (int rep = 0; rep < 5; ++rep) {
    double s = run_threads(T, [&](int t) {
      const size_t b = n * t / T, e = n * (t + 1) / T;
      sink = sink + sum_avx2(buf + b, e - b);
    });
    best = std::min(best, s);
  }
  std::printf("{\"threads\": %d, \"readGBs\": %.1f", T, double(n * sizeof(float)) / best / 1e9);
  // FMA peak.
  const long iters = 200000000;
  double s2 = run_threads(T, [&](int) { sink = sink + float(fma_chains<8>(iters)); });
  std::printf(", \"fmaAvx2GFlops\": %.1f", double(T) * iters * 12 * 8 * 2 / s2 / 1e9);
  const long miters = 100000000;
  double s4 = run_threads(T, [&](int) { sink = sink + float(maddubs_chains(miters)); });
  std::printf(", \"int8Avx2GMacs\": %.1f", double(T) * miters * 12 * 32 / s4 / 1e9);
  if (__builtin_cpu_supports("avx512f")) {
    double s3 = run_threads(T, [&](int) { sink = sink + float(fma_chains<16>(iters)); });
    std::printf(", \"fmaAvx512GFlops\": %.1f", double(T) * iters * 12 * 16 * 2 / s3 / 1e9);
  }
  std::printf("}\n");
  std::free(buf);
  return 0;
}
