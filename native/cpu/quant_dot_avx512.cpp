// AVX512-VNNI instantiation of the quantized dot products (quant_dot_x86.h), compiled with -mavx512vnni
// -mavx512vl: unscaled, bytes u8 x s8 -> vpdpbusd (4 products summed straight into each int32 lane); scaled
// per sub-block, vpmaddubsw (pairs to int16) -> vpdpwssd (times the int16 scales, added into the int32 lanes).
#include "quant_dot_driver.h"
#include "quant_dot_x86.h"
#include "quant_matmul.h"

namespace smoe::cpu {
namespace {
struct Vnni {
  static __m256i dot(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }
  static __m256i dot_scaled(__m256i acc, __m256i u, __m256i s, __m256i sc16) {
    return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u, s), sc16);
  }
};
}  // namespace

QuantMatmulFn quant_matmul_avx512() { return &quant_matmul_dispatch<x86::Dot<Vnni>>; }

}  // namespace smoe::cpu
