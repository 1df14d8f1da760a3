// AVX2 + FMA + F16C instantiation of the matmul microkernel (compiled with -mavx2 -mfma -mf16c).
#include <immintrin.h>

#include "matmul_tile.h"

namespace smoe::cpu {
namespace {
struct Avx2 {
  using V = __m256;
  // 2 chains x 2 tokens x 3 rows = 12 accumulators + 3 weights + 1 activation = 16 ymm
  static constexpr int P = 2, W = 8, MT = 2, NT = 3;
  static constexpr int PMT = 4, PNT = 3;  // packed: 12 accumulators + 3 weights + 1 activation
  template <DType T> using Elem = std::conditional_t<T == DType::F32, float, uint16_t>;
  static V zero() { return _mm256_setzero_ps(); }
  static V load_f32(const float* p) { return _mm256_loadu_ps(p); }
  template <DType T> static V load_w(const Elem<T>* p) {
    if constexpr (T == DType::F32) return _mm256_loadu_ps(p);
    else if constexpr (T == DType::F16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    else return _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
  }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static float hsum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};
}  // namespace

MatmulFn matmul_avx2() { return &matmul_dispatch<Avx2>; }

}  // namespace smoe::cpu
