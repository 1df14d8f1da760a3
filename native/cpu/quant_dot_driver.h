// The row/token loop shared by every instruction set's quantized matmul (quant_dot_<isa>.cpp):
//   out[t * ldo + o] = weight row o . prepared activation row t,   t in [0, T), o in [o0, o1)
// One weight row (a few KB of blocks) at a time stays in L1 while the token rows pass over it 4 at a time,
// so each weight byte is read from memory once per call (decode: T = 1, a bandwidth-bound matvec; prefill:
// T > 1, where the kernel unpacks each weight group once for 4 tokens). D supplies, overloaded on the
// weight and activation block types, template <int C> void dot(const WB* w, const AB* const* x, int64_t nb,
// float* out): out[c] = w . x[c] over nb blocks, for C = 1 .. 4 token rows.
#pragma once
#include <algorithm>
#include <cstdint>

#include "quant_blocks.h"

namespace smoe::cpu {

template <class D, class WB, class AB, int C>
inline void quant_tile(float* out, int64_t ldo, const WB* wr, const AB* xb, int64_t t, int64_t nb, int64_t o) {
  const AB* xs[C];
  float r[C];
  for (int c = 0; c < C; ++c) xs[c] = xb + (t + c) * nb;
  D::template dot<C>(wr, xs, nb, r);
  for (int c = 0; c < C; ++c) out[(t + c) * ldo + o] = r[c];
}

template <class D, class WB, class AB>
void quant_rows(float* out, int64_t ldo, const void* xq, int64_t T, int64_t K, const void* w, int64_t o0, int64_t o1) {
  constexpr int64_t elems = sizeof(AB) == sizeof(BlockQ8_K) ? QK_K : QK;
  const int64_t nb = K / elems;
  const WB* wb = static_cast<const WB*>(w);
  const AB* xb = static_cast<const AB*>(xq);
  for (int64_t o = o0; o < o1; ++o) {
    const WB* wr = wb + o * nb;
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) quant_tile<D, WB, AB, 4>(out, ldo, wr, xb, t, nb, o);
    switch (T - t) {
      case 3: quant_tile<D, WB, AB, 3>(out, ldo, wr, xb, t, nb, o); break;
      case 2: quant_tile<D, WB, AB, 2>(out, ldo, wr, xb, t, nb, o); break;
      case 1: quant_tile<D, WB, AB, 1>(out, ldo, wr, xb, t, nb, o); break;
      default: break;
    }
  }
}

template <class D>
void quant_matmul_dispatch(float* out, int64_t ldo, const void* xq, int64_t T, int64_t K, const void* w, DType wt,
                           int64_t o0, int64_t o1) {
  switch (wt) {
    case DType::Q8_0: quant_rows<D, BlockQ8_0, ActQ8_0>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q4_0: quant_rows<D, BlockQ4_0, ActQ8_0>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q4_1: quant_rows<D, BlockQ4_1, ActQ8_1>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q5_0: quant_rows<D, BlockQ5_0, ActQ8_0>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q5_1: quant_rows<D, BlockQ5_1, ActQ8_1>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q2_K: quant_rows<D, BlockQ2_K, BlockQ8_K>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q3_K: quant_rows<D, BlockQ3_K, BlockQ8_K>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q4_K: quant_rows<D, BlockQ4_K, BlockQ8_K>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q5_K: quant_rows<D, BlockQ5_K, BlockQ8_K>(out, ldo, xq, T, K, w, o0, o1); break;
    case DType::Q6_K: quant_rows<D, BlockQ6_K, BlockQ8_K>(out, ldo, xq, T, K, w, o0, o1); break;
    default: break;  // plain floats never reach here (CpuBackend::matmul_rows routes them to MatmulFn)
  }
}

}  // namespace smoe::cpu
