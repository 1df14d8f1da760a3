// AVX2 decode matvec variants on one thread against a plain read of the same bytes (huge pages): how many
// independent FMA chains one row needs to stream F16 / BF16 at the read bandwidth with 8-lane vectors, and
// whether splitting a row into contiguous parts (one chain each: the order native/cpu/matmul_tile.h keeps
// for T = 1 and T > 1 alike) streams as well as interleaving chains vector by vector.
// Build: g++ -O3 -std=c++17 -mavx2 -mfma -mf16c bench/micro/matvec_avx2.cpp -o /tmp/matvec_avx2
// Run:   /tmp/matvec_avx2 K O [bf16]
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <sys/mman.h>

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
static bool g_bf16 = false;
static inline __m256 ld(const uint16_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if (g_bf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
  return _mm256_cvtph_ps(v);
}
static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// P contiguous parts of each row, one chain each, stepped together.
template <int P>
static void parts(float* out, const float* x, int64_t K, const uint16_t* w, int64_t O) {
  const int64_t L = K / 8 / P * 8;
  for (int64_t o = 0; o < O; ++o) {
    const uint16_t* r = w + o * K;
    __m256 a[P];
    for (int p = 0; p < P; ++p) a[p] = _mm256_setzero_ps();
    for (int64_t k = 0; k < L; k += 8)
      for (int p = 0; p < P; ++p) a[p] = _mm256_fmadd_ps(_mm256_loadu_ps(x + p * L + k), ld(r + p * L + k), a[p]);
    __m256 s = a[0];
    for (int p = 1; p < P; ++p) s = _mm256_add_ps(s, a[p]);
    out[o] = hsum(s);
  }
}
// P chains interleaved vector by vector (chain p takes vectors p, p + P, ...).
template <int P>
static void chains(float* out, const float* x, int64_t K, const uint16_t* w, int64_t O) {
  for (int64_t o = 0; o < O; ++o) {
    const uint16_t* r = w + o * K;
    __m256 a[P];
    for (int p = 0; p < P; ++p) a[p] = _mm256_setzero_ps();
    for (int64_t k = 0; k + 8 * P <= K; k += 8 * P)
      for (int p = 0; p < P; ++p) a[p] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8 * p), ld(r + k + 8 * p), a[p]);
    __m256 s = a[0];
    for (int p = 1; p < P; ++p) s = _mm256_add_ps(s, a[p]);
    out[o] = hsum(s);
  }
}
// P chains over blocks of B vectors (block b of the row goes to chain b mod P).
template <int P, int B>
static void blocks(float* out, const float* x, int64_t K, const uint16_t* w, int64_t O) {
  for (int64_t o = 0; o < O; ++o) {
    const uint16_t* r = w + o * K;
    __m256 a[P];
    for (int p = 0; p < P; ++p) a[p] = _mm256_setzero_ps();
    for (int64_t k = 0; k + 8 * P * B <= K; k += 8 * P * B)
      for (int p = 0; p < P; ++p)
        for (int b = 0; b < B; ++b) a[p] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8 * (p * B + b)), ld(r + k + 8 * (p * B + b)), a[p]);
    __m256 s = a[0];
    for (int p = 1; p < P; ++p) s = _mm256_add_ps(s, a[p]);
    out[o] = hsum(s);
  }
}
static float probe(const uint16_t* p, size_t n) {
  __m256 a = _mm256_setzero_ps(), b = a;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a = _mm256_add_ps(a, _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i))));
    b = _mm256_add_ps(b, _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 16))));
  }
  return hsum(_mm256_add_ps(a, b));
}
int main(int argc, char** argv) {
  if (argc < 3) { std::fprintf(stderr, "usage: matvec_avx2 K O [bf16]\n"); return 2; }
  const int64_t K = std::atoll(argv[1]), O = std::atoll(argv[2]);
  g_bf16 = argc > 3 && std::strcmp(argv[3], "bf16") == 0;
  const size_t n = size_t(O) * size_t(K), bytes = n * 2;
  const int copies = int((512u << 20) / bytes) + 1;
  std::vector<uint16_t*> ws;
  for (int c = 0; c < copies; ++c) {
    void* p = nullptr;
    if (posix_memalign(&p, 2 << 20, bytes)) return 1;
    madvise(p, bytes, MADV_HUGEPAGE);
    uint16_t* w = static_cast<uint16_t*>(p);
    for (size_t i = 0; i < n; ++i) w[i] = uint16_t(0x3c00 ^ (i & 0x3ff));
    ws.push_back(w);
  }
  std::vector<float> x(static_cast<size_t>(K), 0.5f), out(static_cast<size_t>(O));
  auto run = [&](const char* name, auto f) {
    double best = 1e9;
    for (int r = 0; r < 5; ++r) {
      double t = now();
      for (int c = 0; c < copies; ++c) f(ws[size_t(c)]);
      t = (now() - t) / copies;
      if (t < best) best = t;
    }
    std::printf("  %-24s %6.2f GB/s\n", name, double(bytes) / best / 1e9);
  };
  std::printf("K=%ld O=%ld %s %.1f MB x%d\n", long(K), long(O), g_bf16 ? "bf16" : "f16", double(bytes) / 1e6, copies);
  run("probe", [&](const uint16_t* w) { volatile float s = probe(w, n); (void)s; });
  run("1 chain", [&](const uint16_t* w) { parts<1>(out.data(), x.data(), K, w, O); });
  run("2 parts", [&](const uint16_t* w) { parts<2>(out.data(), x.data(), K, w, O); });
  run("4 parts", [&](const uint16_t* w) { parts<4>(out.data(), x.data(), K, w, O); });
  run("2 chains interleaved", [&](const uint16_t* w) { chains<2>(out.data(), x.data(), K, w, O); });
  run("4 chains interleaved", [&](const uint16_t* w) { chains<4>(out.data(), x.data(), K, w, O); });
  run("4 chains, blocks of 2", [&](const uint16_t* w) { blocks<4, 2>(out.data(), x.data(), K, w, O); });
  run("4 chains, blocks of 4", [&](const uint16_t* w) { blocks<4, 4>(out.data(), x.data(), K, w, O); });
  run("4 chains, blocks of 8", [&](const uint16_t* w) { blocks<4, 8>(out.data(), x.data(), K, w, O); });
  run("2 chains, blocks of 8", [&](const uint16_t* w) { blocks<2, 8>(out.data(), x.data(), K, w, O); });
}
