// AVX-512 (F + BW) instantiation of the matmul microkernel (compiled with -mavx512f -mavx512bw -mfma -mf16c).
#include <immintrin.h>

#include "matmul_tile.h"

namespace smoe::cpu {
namespace {
struct Avx512 {
  using V = __m512;
  // 1 chain x 6 tokens x 4 rows = 24 accumulators + 4 weights + 1 activation of 32 zmm (one chain streams at
  // the read limit with 16 lanes: matmul_tile.h matvec_rows). The packed tile is 4 tokens x 6 rows: the panel
  // chunk stays in L1 and the token rows, read from L2, are 4 loads a step instead of 6 (bench/micro/gemm.cpp,
  // 1 thread, T 32, weights from memory: K 1024 x O 3584 114 -> 128 GFLOP/s mean, K 3584 x O 1024 118 -> 114;
  // the model's F16 prefill within the noise, 460-466 -> 464-481 tok/s).
  static constexpr int P = 1, W = 16, MT = 6, NT = 4, PMT = 4, PNT = 6;
  template <DType T> using Elem = std::conditional_t<T == DType::F32, float, uint16_t>;
  static V zero() { return _mm512_setzero_ps(); }
  static V load_f32(const float* p) { return _mm512_loadu_ps(p); }
  template <DType T> static V load_w(const Elem<T>* p) {
    if constexpr (T == DType::F32) return _mm512_loadu_ps(p);
    else if constexpr (T == DType::F16) return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    else return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
  }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static float hsum(V v) { return _mm512_reduce_add_ps(v); }
};
}  // namespace

MatmulFn matmul_avx512() { return &matmul_dispatch<Avx512>; }

}  // namespace smoe::cpu
