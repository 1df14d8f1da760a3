// AVX2 instantiation of the quantized dot products (quant_dot_x86.h), compiled with -mavx2 -mfma -mf16c:
// bytes u8 x s8 -> vpmaddubsw (pairs to int16; no saturation for |w| <= 128, |x| <= 127) -> vpmaddwd with
// ones or with the per-sub-block scales (int16) -> int32 lanes.
#include "quant_dot_driver.h"
#include "quant_dot_x86.h"
#include "quant_matmul.h"

namespace smoe::cpu {
namespace {
struct MaddUbs {
  static __m256i dot(__m256i u, __m256i s) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)); }
  static __m256i dot_scaled(__m256i acc, __m256i u, __m256i s, __m256i sc) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), sc));
  }
};
}  // namespace

QuantMatmulFn quant_matmul_avx2() { return &quant_matmul_dispatch<x86::Dot<MaddUbs>>; }

}  // namespace smoe::cpu
