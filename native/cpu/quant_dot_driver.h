// The row/token loop shared by every instruction set's quantized matmul (quant_dot_<isa>.cpp):
//   out[t * ldo + o] = D::dot_<type>(weight row o, activation row t, blocks per row)
// for t in [0, T), o in [o0, o1). Weight rows are R at a time: a tile of R rows (a few KB of blocks) stays in
// L1 while every token's prepared activation row passes over it, so each weight byte is read from memory
// once per call (decode: T = 1, a bandwidth-bound matvec; prefill: T > 1). D supplies one dot product per
// weight type, float dot_<type>(const BlockW* w, const BlockA* x, int64_t nb).
#pragma once
#include <algorithm>
#include <cstdint>

#include "quant_blocks.h"

namespace smoe::cpu {

template <class WB, class AB, float (*Dot)(const WB*, const AB*, int64_t)>
void quant_rows(float* out, int64_t ldo, const void* xq, int64_t T, int64_t K, const void* w, int64_t o0, int64_t o1) {
  constexpr int R = 4;
  constexpr int64_t welems = sizeof(AB) == sizeof(BlockQ8_K) ? QK_K : QK;
  const int64_t nb = K / welems;
  const WB* wb = static_cast<const WB*>(w);
  const AB* xb = static_cast<const AB*>(xq);
  for (int64_t o = o0; o < o1; o += R) {
    const int64_t e = std::min(o + R, o1);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = o; r < e; ++r) out[t * ldo + r] = Dot(wb + r * nb, xb + t * nb, nb);
  }
}

template <class D>
void quant_matmul_dispatch(float* out, int64_t ldo, const void* xq, int64_t T, int64_t K, const void* w, DType wt,
                           int64_t o0, int64_t o1) {
  switch (wt) {
    case DType::Q8_0: quant_rows<BlockQ8_0, BlockQ8_0, D::dot_q8_0>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q4_0: quant_rows<BlockQ4_0, BlockQ8_0, D::dot_q4_0>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q4_1: quant_rows<BlockQ4_1, BlockQ8_1, D::dot_q4_1>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q5_0: quant_rows<BlockQ5_0, BlockQ8_0, D::dot_q5_0>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q5_1: quant_rows<BlockQ5_1, BlockQ8_1, D::dot_q5_1>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q2_K: quant_rows<BlockQ2_K, BlockQ8_K, D::dot_q2_k>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q3_K: quant_rows<BlockQ3_K, BlockQ8_K, D::dot_q3_k>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q4_K: quant_rows<BlockQ4_K, BlockQ8_K, D::dot_q4_k>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q5_K: quant_rows<BlockQ5_K, BlockQ8_K, D::dot_q5_k>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q6_K: quant_rows<BlockQ6_K, BlockQ8_K, D::dot_q6_k>(out, ldo, xq, T, K, w, o0, o1); break;
    default: break;  // plain floats never reach here (CpuBackend::matmul_rows routes them to MatmulFn)
  }
}

}  // namespace smoe::cpu
