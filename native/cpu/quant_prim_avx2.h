// AVX2 integer-dot primitive of the quantized dot products (quant_dot_x86.h), compiled with -mavx2 -mfma -mf16c:
// bytes u8 x s8 -> vpmaddubsw (pairs to int16; no saturation for |w| <= 128, |x| <= 127) -> vpmaddwd with
// ones or with the per-sub-block scales (int16) -> int32 lanes.
// Included by quant_dot_avx2.cpp and bench/micro/quant_dot.cpp.
#pragma once
#include <immintrin.h>

namespace smoe::cpu::x86 {

struct MaddUbs {
  static __m256i dot(__m256i u, __m256i s) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)); }
  static __m256i dot_scaled(__m256i acc, __m256i u, __m256i s, __m256i sc) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), sc));
  }
  // Interleaved rows: |w| times x with w's sign (Q8_0); nibble products summed as int16 pairs (8 products
  // of 2 * 15 * 127 stay below 2^15), scaled by vpmaddwd with (sc, sc) in each int32 lane.
  static constexpr bool kOffset128 = false;
  static __m256i prep_s8(__m256i w) { return _mm256_sign_epi8(w, w); }
  static __m256i dot_s8(__m256i acc, __m256i wp, __m256i w, __m256i xb) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(wp, _mm256_sign_epi8(xb, w)), _mm256_set1_epi16(1)));
  }
  static __m256i sub_acc(__m256i acc, __m256i u, __m256i xb) { return _mm256_add_epi16(acc, _mm256_maddubs_epi16(u, xb)); }
  static __m256i sub_add(__m256i a, __m256i b) { return _mm256_add_epi16(a, b); }
  static __m256i sub_scale(__m256i sc32) { return _mm256_blend_epi16(sc32, _mm256_slli_epi32(sc32, 16), 0xAA); }
  static __m256i sub_fold(__m256i acc, __m256i sc) { return _mm256_madd_epi16(acc, sc); }
};

}  // namespace smoe::cpu::x86
