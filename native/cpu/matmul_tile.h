// The CPU matmul microkernel, written once and compiled per instruction set (matmul_<isa>.cpp).
// Computes out[t, o] = sum_k x[t, k] * w[o, k] for t in [0, T), o in [o0, o1):
//   x:   [T, K]  F32, row-major (activations)
//   w:   [O, K]  F32 / F16 / BF16, row-major, as stored in the checkpoint (PyTorch Linear layout)
//   out: [T, ldo] F32
// A tile is MT tokens x NT weight rows held in MT*NT vector accumulators: each step loads NT weight
// vectors (converted to fp32 in registers) and MT activation vectors and does MT*NT FMAs. The NT weight
// rows of a block stay in L1 while every token tile passes over them, so each weight is read from memory
// once per call (decode: T = 1, a bandwidth-bound matvec; prefill: T large, FMA-bound).
// A matvec (decode, T = 1) goes through matvec_rows instead (same sum order, with prefetch).
// S is a SIMD traits struct: V, W (lanes), zero(), load_f32(), load_w<DType>(), store(), fma(), hsum().
#pragma once
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../core/dtype.h"

namespace smoe::cpu {

using MatmulFn = void (*)(float* out, int64_t ldo, const float* x, int64_t T, int64_t K, const void* w, DType wt,
                          int64_t o0, int64_t o1);

// The scalar tails use an explicit fused multiply-add, so that every instantiation rounds alike (the
// compiler would contract `s += a * b` in some and not in others).
template <class S, DType WT, int MT, int NT>
static inline void matmul_tile(float* out, int64_t ldo, const float* x, int64_t K, const void* w, int64_t o) {
  using V = typename S::V;
  using WE = typename S::template Elem<WT>;
  V acc[MT][NT];
  for (int i = 0; i < MT; ++i)
    for (int j = 0; j < NT; ++j) acc[i][j] = S::zero();
  const WE* wr[NT];
  for (int j = 0; j < NT; ++j) wr[j] = static_cast<const WE*>(w) + (o + j) * K;
  int64_t k = 0;
  for (; k + S::W <= K; k += S::W) {
    V wv[NT];
    for (int j = 0; j < NT; ++j) wv[j] = S::template load_w<WT>(wr[j] + k);
    for (int i = 0; i < MT; ++i) {
      const V xv = S::load_f32(x + i * K + k);
      for (int j = 0; j < NT; ++j) acc[i][j] = S::fma(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MT; ++i)
    for (int j = 0; j < NT; ++j) {
      float s = S::hsum(acc[i][j]);
      for (int64_t kk = k; kk < K; ++kk) s = __builtin_fmaf(x[i * K + kk], load_as_f32(wr[j], WT, size_t(kk)), s);
      out[i * ldo + o + j] = s;
    }
}

// Token remainder: MT known at compile time for each of 1..MTMAX.
template <class S, DType WT, int MT, int NT>
static inline void matmul_tokens_tail(float* out, int64_t ldo, const float* x, int64_t rem, int64_t K,
                                      const void* w, int64_t o) {
  if constexpr (MT >= 1) {
    if (rem == MT) { matmul_tile<S, WT, MT, NT>(out, ldo, x, K, w, o); return; }
    matmul_tokens_tail<S, WT, MT - 1, NT>(out, ldo, x, rem, K, w, o);
  }
}

// out[o] = sum_k x[k] * w[o, k] for o in [o0, o1): the decode matvec, bound by memory. One row at a time,
// front to back, with no software prefetch: the rows of a block are contiguous, so the whole call is one
// sequential stream, which the hardware prefetchers follow at the full read bandwidth. Measured on a Zen 4
// EPYC, 1 thread, a 65 MB F16 matrix (bench/micro/matvec.cpp): this loop streams at the probed limit
// (17.7 of 17.7 GB/s on file-mapped pages, 27.9 of 27.7 on huge pages), where 4 or 8 interleaved rows with
// or without prefetch reached 9-13 GB/s. One accumulator per row, lanes over k in steps of W, reduced, then
// the scalar tail: the sum order of matmul_tile<S, WT, 1, NT>, so a row's result does not depend on how
// many tokens the call has.
template <class S, DType WT>
static void matvec_rows(float* out, const float* x, int64_t K, const void* w, int64_t o0, int64_t o1) {
  using V = typename S::V;
  using WE = typename S::template Elem<WT>;
  for (int64_t o = o0; o < o1; ++o) {
    const WE* wr = static_cast<const WE*>(w) + o * K;
    V acc = S::zero();
    int64_t k = 0;
    for (; k + S::W <= K; k += S::W) acc = S::fma(S::load_f32(x + k), S::template load_w<WT>(wr + k), acc);
    float s = S::hsum(acc);
    for (; k < K; ++k) s = __builtin_fmaf(x[k], load_as_f32(wr, WT, size_t(k)), s);
    out[o] = s;
  }
}

// The NT rows of w at row o as F32 into panel[NT, K] (16-bit weights converted once per block).
template <class S, DType WT, int NT>
static inline void convert_panel(float* panel, int64_t K, const void* w, int64_t o) {
  using WE = typename S::template Elem<WT>;
  for (int j = 0; j < NT; ++j) {
    const WE* r = static_cast<const WE*>(w) + (o + j) * K;
    float* d = panel + j * K;
    int64_t k = 0;
    for (; k + S::W <= K; k += S::W) S::store(d + k, S::template load_w<WT>(r + k));
    for (; k < K; ++k) d[k] = load_as_f32(r, WT, size_t(k));
  }
}

// All token tiles of one NT-row block whose weights are `wb` (dtype BT) at row `o`.
template <class S, DType BT, int NT>
static inline void matmul_block_tokens(float* out, int64_t ldo, const float* x, int64_t T, int64_t K, const void* wb,
                                       int64_t o) {
  constexpr int MT = S::MT;
  int64_t t = 0;
  for (; t + MT <= T; t += MT) matmul_tile<S, BT, MT, NT>(out + t * ldo, ldo, x + t * K, K, wb, o);
  if (t < T) matmul_tokens_tail<S, BT, MT - 1, NT>(out + t * ldo, ldo, x + t * K, T - t, K, wb, o);
}

template <class S, DType WT>
static void matmul_range(float* out, int64_t ldo, const float* x, int64_t T, int64_t K, const void* w,
                         int64_t o0, int64_t o1) {
  constexpr int MT = S::MT, NT = S::NT;
  int64_t o = o0;
  if (T == 1) { matvec_rows<S, WT>(out, x, K, w, o0, o1); return; }
  // A GEMM (prefill) wants the MT x NT tile: NT weight rows reused by every token tile from L1 / L2. With
  // 16-bit weights and more than one token tile, the block is converted to an F32 panel once, so the
  // conversions leave the inner loop (on many cores they share ports with the FMAs). The values, and so
  // the sums, are the same either way.
  thread_local std::vector<float> panel;
  bool packed = WT != DType::F32 && T > MT;
  if (packed && panel.size() < size_t(NT * K)) {
    try { panel.resize(size_t(NT * K)); } catch (...) { packed = false; }  // runs on pool threads: never throw
  }
  if (packed) {
    for (; o + NT <= o1; o += NT) {
      convert_panel<S, WT, NT>(panel.data(), K, w, o);
      matmul_block_tokens<S, DType::F32, NT>(out + o, ldo, x, T, K, panel.data(), 0);
    }
  } else {
    for (; o + NT <= o1; o += NT) matmul_block_tokens<S, WT, NT>(out, ldo, x, T, K, w, o);
  }
  for (; o < o1; ++o) matmul_block_tokens<S, WT, 1>(out, ldo, x, T, K, w, o);
}

template <class S>
static void matmul_dispatch(float* out, int64_t ldo, const float* x, int64_t T, int64_t K, const void* w, DType wt,
                            int64_t o0, int64_t o1) {
  switch (wt) {
    case DType::F32: matmul_range<S, DType::F32>(out, ldo, x, T, K, w, o0, o1); break;
    case DType::F16: matmul_range<S, DType::F16>(out, ldo, x, T, K, w, o0, o1); break;
    case DType::BF16: matmul_range<S, DType::BF16>(out, ldo, x, T, K, w, o0, o1); break;
    default: break;  // quantized weights go through QuantMatmulFn (CpuBackend::matmul_rows)
  }
}

}  // namespace smoe::cpu
