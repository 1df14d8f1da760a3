// The row/token loop shared by every instruction set's quantized matmul (quant_dot_<isa>.cpp):
//   out[t * ldo + o] = weight row o . prepared activation row t,   t in [0, T), o in [o0, o1)
// One weight row (a few KB of blocks) at a time stays in L1 while the token rows pass over it 4 at a time,
// so each weight byte is read from memory once per call (decode: T = 1, a bandwidth-bound matvec; prefill:
// T > 1, where the kernel unpacks each weight group once for 4 tokens). D supplies, overloaded on the
// weight and activation block types, template <int C> void dot(const WB* w, const AB* const* x, int64_t nb,
// float* out): out[c] = w . x[c] over nb blocks, for C = 1 .. 4 token rows; and where D::kInterleaved, the
// same for 8 interleaved rows (repack.h), dot8<C>(w8, x, nb, out): out[8c + r] = row r . x[c].
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

// Rows interleaved by eight (repack.h): rows [0, rows / 8 * 8) are groups of 8 in WB8 blocks, the tail rows
// stay WB rows. Each group of 8 rows passes over the tokens 4 at a time (D::dot8, lane r = row r); a group
// cut by [o0, o1) is computed whole and only its rows in range are written.
template <class D, class WB8, class WB, class AB>
void quant_rows_r8(float* out, int64_t ldo, const void* xq, int64_t T, int64_t K, const void* w, int64_t rows,
                   int64_t o0, int64_t o1) {
  constexpr int64_t elems = sizeof(AB) == sizeof(BlockQ8_K) ? QK_K : QK;
  const int64_t nb = K / elems, grouped = rows / 8 * 8;
  const AB* xb = static_cast<const AB*>(xq);
  for (int64_t g = o0 / 8 * 8; g < std::min(o1, grouped); g += 8) {
    const WB8* wg = static_cast<const WB8*>(w) + g / 8 * nb;
    const bool whole = g >= o0 && g + 8 <= o1;
    for (int64_t t = 0; t < T; t += 4) {
      const AB* xs[4];
      float r[4 * 8];
      const int n = int(std::min<int64_t>(4, T - t));
      for (int c = 0; c < n; ++c) xs[c] = xb + (t + c) * nb;
      switch (n) {
        case 4: D::template dot8<4>(wg, xs, nb, r); break;
        case 3: D::template dot8<3>(wg, xs, nb, r); break;
        case 2: D::template dot8<2>(wg, xs, nb, r); break;
        default: D::template dot8<1>(wg, xs, nb, r); break;
      }
      for (int c = 0; c < n; ++c) {
        float* o = out + (t + c) * ldo + g;
        for (int k = 0; k < 8; ++k)
          if (whole || (g + k >= o0 && g + k < o1)) o[k] = r[8 * c + k];
      }
    }
  }
  if (o1 > grouped)
    quant_rows<D, WB, AB>(out + grouped, ldo, xq, T, K, static_cast<const char*>(w) + grouped * (nb * int64_t(sizeof(WB))),
                          std::max(o0, grouped) - grouped, o1 - grouped);
}

template <class D>
void quant_matmul_dispatch(float* out, int64_t ldo, const void* xq, int64_t T, int64_t K, const void* w, DType wt,
                           int64_t rows, int64_t o0, int64_t o1) {
  if constexpr (D::kInterleaved) {
    if (wt == DType::Q8_0_R8) return quant_rows_r8<D, BlockQ8_0x8, BlockQ8_0, ActQ8_0>(out, ldo, xq, T, K, w, rows, o0, o1);
    if (wt == DType::Q4_K_R8) return quant_rows_r8<D, BlockQ4_Kx8, BlockQ4_K, BlockQ8_K>(out, ldo, xq, T, K, w, rows, o0, o1);
  }
  (void)rows;
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
