// AVX512-VNNI integer-dot primitive of the quantized dot products (quant_dot_x86.h), compiled with -mavx512vnni
// -mavx512vl: unscaled, bytes u8 x s8 -> vpdpbusd (4 products summed straight into each int32 lane); scaled
// per sub-block, vpmaddubsw (pairs to int16) -> vpdpwssd (times the int16 scales, added into the int32 lanes);
// the interleaved rows' kernels use vpdpbusd throughout.
// Included by quant_dot_avx512.cpp and bench/micro/quant_dot.cpp.
#pragma once
#include <immintrin.h>

namespace smoe::cpu::x86 {

struct Vnni {
  static __m256i dot(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }
  static __m256i dot_scaled(__m256i acc, __m256i u, __m256i s, __m256i sc16) {
    return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u, s), sc16);
  }
  // Interleaved rows: w + 128 as unsigned bytes (vpdpbusd's unsigned side; the activation's m128 takes the
  // 128 * sum(x) back out), and nibble products summed straight into int32, scaled by vpmulld.
  static constexpr bool kOffset128 = true;
  static __m256i prep_s8(__m256i w) { return _mm256_xor_si256(w, _mm256_set1_epi8(char(0x80))); }
  static __m256i dot_s8(__m256i acc, __m256i wp, __m256i, __m256i xb) { return _mm256_dpbusd_epi32(acc, wp, xb); }
  static __m256i sub_acc(__m256i acc, __m256i u, __m256i xb) { return _mm256_dpbusd_epi32(acc, u, xb); }
  static __m256i sub_add(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
  static __m256i sub_scale(__m256i sc32) { return sc32; }
  static __m256i sub_fold(__m256i acc, __m256i sc) { return _mm256_mullo_epi32(acc, sc); }
};

}  // namespace smoe::cpu::x86
