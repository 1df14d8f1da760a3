// The CPU matmul microkernel, written once and compiled per instruction set (matmul_<isa>.cpp).
// Computes out[t, o] = sum_k x[t, k] * w[o, k] for t in [0, T), o in [o0, o1):
//   x:   [T, K]  F32, row-major (activations)
//   w:   [O, K]  F32 / F16 / BF16, row-major, as stored in the checkpoint (PyTorch Linear layout)
//   out: [T, ldo] F32
// A tile is MT tokens x NT weight rows held in P*MT*NT vector accumulators: each step loads NT weight
// vectors (converted to fp32 in registers) and MT activation vectors and does MT*NT FMAs. The NT weight
// rows of a block stay in L1 while every token tile passes over them, so each weight is read from memory
// once per call (decode: T = 1, a bandwidth-bound matvec; prefill: T large, FMA-bound).
// A matvec (decode, T = 1) goes through matvec_rows instead (same sum order, S::P chains per row).
// S is a SIMD traits struct: V, W (lanes), P (FMA chains per row, see matmul_tile), MT x NT (the tile),
// PMT x PNT (the packed prefill tile, matmul_chunk_cm), zero(), load_f32(),
// load_w<DType>(), store(), fma(), add(), hsum().
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/dtype.h"
#include "aligned_vector.h"

namespace smoe::cpu {

using MatmulFn = void (*)(float* out, int64_t ldo, const float* x, int64_t T, int64_t K, const void* w, DType wt,
                          int64_t o0, int64_t o1);

// The scalar tails use an explicit fused multiply-add, so that every instantiation rounds alike (the
// compiler would contract `s += a * b` in some and not in others).
// The sum order of a row, which every kernel below keeps, so that a row's result does not depend on how many
// tokens the call has: vector v of the row's whole vectors (lanes [v * W, v * W + W)) goes to chain v mod S::P;
// each chain is summed front to back in its own accumulator; the chains are added in order (0 + 1, + 2, ...),
// reduced across lanes, then the scalar tail is added element by element. A tile holds all P chains of its
// MT x NT outputs (P * MT * NT accumulators).
template <class S, DType WT, int MT, int NT>
static inline void matmul_tile(float* out, int64_t ldo, const float* x, int64_t K, const void* w, int64_t o) {
  using V = typename S::V;
  using WE = typename S::template Elem<WT>;
  constexpr int P = S::P;
  constexpr int64_t step = int64_t(S::W) * P;
  const int64_t kv = K / S::W * S::W;
  const WE* wr[NT];
  for (int j = 0; j < NT; ++j) wr[j] = static_cast<const WE*>(w) + (o + j) * K;
  V acc[P][MT][NT];
  for (int p = 0; p < P; ++p)
    for (int i = 0; i < MT; ++i)
      for (int j = 0; j < NT; ++j) acc[p][i][j] = S::zero();
  auto vector_step = [&](int p, int64_t k) {
    V wv[NT];
    for (int j = 0; j < NT; ++j) wv[j] = S::template load_w<WT>(wr[j] + k);
    for (int i = 0; i < MT; ++i) {
      const V xv = S::load_f32(x + i * K + k);
      for (int j = 0; j < NT; ++j) acc[p][i][j] = S::fma(xv, wv[j], acc[p][i][j]);
    }
  };
  int64_t k = 0;
  for (; k + step <= kv; k += step)
    for (int p = 0; p < P; ++p) vector_step(p, k + p * S::W);
  for (int p = 0; k < kv; k += S::W, ++p) vector_step(p, k);
  for (int i = 0; i < MT; ++i)
    for (int j = 0; j < NT; ++j) {
      V sum = acc[0][i][j];
      for (int p = 1; p < P; ++p) sum = S::add(sum, acc[p][i][j]);
      float s = S::hsum(sum);
      for (int64_t kk = kv; kk < K; ++kk) s = __builtin_fmaf(x[i * K + kk], load_as_f32(wr[j], WT, size_t(kk)), s);
      out[i * ldo + o + j] = s;
    }
}

// Chain-major layout of a row (the packed prefill path): the vectors of chain 0 first (v = 0, P, 2P, ...),
// then those of chain 1, ..., then the scalar tail at [kv, K) as before. chain_start<S>(K, p) is where chain
// p begins (chain_start<S>(K, S::P) = kv, where the last one ends); to_chain_major writes a row of dtype WT
// into that layout as F32.
template <class S>
inline int64_t chain_start(int64_t K, int p) {
  const int64_t nv = K / S::W;
  int64_t v = 0;
  for (int q = 0; q < p; ++q) v += (nv - q + S::P - 1) / S::P;
  return v * S::W;
}
template <class S, DType WT>
inline void to_chain_major(float* dst, const typename S::template Elem<WT>* src, int64_t K) {
  const int64_t nv = K / S::W;
  for (int p = 0; p < S::P; ++p) {
    float* d = dst + chain_start<S>(K, p);
    for (int64_t v = p; v < nv; v += S::P, d += S::W) S::store(d, S::template load_w<WT>(src + v * S::W));
  }
  for (int64_t k = nv * S::W; k < K; ++k) dst[k] = load_as_f32(src, WT, size_t(k));
}

// The chain-major (packed prefill) tile, one chunk [c0, c1) of a chain at a time: MT x NT running sums of the
// chain, kept in run[MT][NT][W] between chunks (zero when `fresh`), continued front to back over the chunk.
// A chain cut into chunks is summed in the order of one pass, so the results are those of matmul_tile.
template <class S, int MT, int NT>
static inline void matmul_chunk_cm(float* run, const float* x, int64_t K, const float* w, int64_t c0, int64_t c1,
                                   bool fresh, const char* pf, const char* pf_end) {
  using V = typename S::V;
  const float* wr[NT];
  for (int j = 0; j < NT; ++j) wr[j] = w + j * K;
  V acc[MT][NT];
  for (int i = 0; i < MT; ++i)
    for (int j = 0; j < NT; ++j) acc[i][j] = fresh ? S::zero() : S::load_f32(run + (i * NT + j) * S::W);
  for (int64_t k = c0; k < c1; k += S::W) {
    if (pf < pf_end) { __builtin_prefetch(pf, 0, 2); pf += 64; }  // one line a step: no burst fills the queue
    V wv[NT];
    for (int j = 0; j < NT; ++j) wv[j] = S::load_f32(wr[j] + k);
    for (int i = 0; i < MT; ++i) {
      const V xv = S::load_f32(x + i * K + k);
      for (int j = 0; j < NT; ++j) acc[i][j] = S::fma(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MT; ++i)
    for (int j = 0; j < NT; ++j) S::store(run + (i * NT + j) * S::W, acc[i][j]);
}

// Token remainder of a chunk: MT known at compile time for each of 1..MTMAX.
template <class S, int MT, int NT>
static inline void matmul_chunk_cm_tail(int64_t rem, float* run, const float* x, int64_t K, const float* w,
                                        int64_t c0, int64_t c1, bool fresh, const char* pf, const char* pf_end) {
  if constexpr (MT >= 1) {
    if (rem == MT) { matmul_chunk_cm<S, MT, NT>(run, x, K, w, c0, c1, fresh, pf, pf_end); return; }
    matmul_chunk_cm_tail<S, MT - 1, NT>(rem, run, x, K, w, c0, c1, fresh, pf, pf_end);
  }
}

// Elements of a chain one pass of the token tiles covers: the chunk of the NT panel rows (24 KB at 6 rows of
// AVX-512) stays in L1 while every token tile passes over it, where whole rows of a long K (w2: 3584 x 4
// bytes a row) did not fit. AVX-512, 1 thread, F16, T 32 (bench/micro/gemm.cpp): K 3584 x O 1024 115 ->
// 138 GFLOP/s (chunks of 256 / 512 / 1024 / 2048: 120 / 134 / 138 / 129), K 1024 unchanged (with the 6 x 4
// tile of the time).
constexpr int64_t kChainChunk = 1024;
// The block of weight rows this many blocks ahead is fetched into L2 while a block computes: its
// conversion to the F32 panel otherwise waited on memory. Same bench with the weights streamed from memory
// (NM=120, 880 MB): T 32, K 1024 x O 3584 106-110 -> 122-124 GFLOP/s; 1 or 4 blocks ahead 112-117.
constexpr int64_t kPanelsAhead = 2;

// All T tokens against the NT rows of a chain-major F32 panel (x chain-major too): out[t * ldo + j] for
// j < NT. Per chain, chunk by chunk, every token tile continues its running sums (run); a finished chain
// is added to the total (tot) in chain order; then each total is reduced across lanes and the scalar tail
// added. The order of matmul_tile, so the same sums. run and tot hold T * NT * W floats each.
template <class S, int NT>
static inline void matmul_block_cm(float* out, int64_t ldo, const float* x, int64_t T, int64_t K, const float* w,
                                   float* run, float* tot, const char* next, int64_t next_bytes) {
  constexpr int MT = S::PMT;
  constexpr int64_t V = int64_t(NT) * S::W;  // floats of one token's sums
  const int64_t kv = K / S::W * S::W;
  // next[0, next_bytes): the weights of a later block, fetched into L2, a share in each tile pass, one line per
  // step of its loop (lines past a pass's steps are left to the hardware). Issued as a burst before each pass,
  // the prefetches stalled the thread on full fill buffers (a third of this function's time in perf): spread,
  // the model's F16 prefill (PASSES=5 node bench/prefill-passes.mjs, 2 threads, 5 alternating rounds) means
  // 479 -> 497 tok/s.
  int64_t passes = 0;
  for (int p = 0; p < S::P; ++p) {
    const int64_t n = chain_start<S>(K, p + 1) - chain_start<S>(K, p);
    passes += std::max<int64_t>(1, (n + kChainChunk - 1) / kChainChunk) * ((T + MT - 1) / MT);
  }
  const int64_t share = (next_bytes / 64 + passes - 1) / passes * 64;
  int64_t fetched = 0;
  auto fetch = [&] {  // this pass's share: [from, to) bytes of next
    const int64_t from = fetched;
    fetched = std::min(next_bytes, fetched + share);
    return std::pair<const char*, const char*>(next + from, next + fetched);
  };
  for (int p = 0; p < S::P; ++p) {
    const int64_t kb = chain_start<S>(K, p), ke = chain_start<S>(K, p + 1);
    float* r = S::P == 1 ? tot : run;
    int64_t c0 = kb;
    do {  // at least once, so that an empty chain sums to zero
      const int64_t c1 = std::min(ke, c0 + kChainChunk);
      int64_t t = 0;
      for (; t + MT <= T; t += MT) {
        const auto [pb, pe] = fetch();
        matmul_chunk_cm<S, MT, NT>(r + t * V, x + t * K, K, w, c0, c1, c0 == kb, pb, pe);
      }
      if (t < T) {
        const auto [pb, pe] = fetch();
        matmul_chunk_cm_tail<S, MT - 1, NT>(T - t, r + t * V, x + t * K, K, w, c0, c1, c0 == kb, pb, pe);
      }
      c0 = c1;
    } while (c0 < ke);
    if (S::P > 1)
      for (int64_t v = 0; v < T * V; v += S::W)
        S::store(tot + v, p == 0 ? S::load_f32(run + v) : S::add(S::load_f32(tot + v), S::load_f32(run + v)));
  }
  for (int64_t t = 0; t < T; ++t)
    for (int j = 0; j < NT; ++j) {
      float s = S::hsum(S::load_f32(tot + t * V + j * S::W));
      for (int64_t kk = kv; kk < K; ++kk) s = __builtin_fmaf(x[t * K + kk], w[j * K + kk], s);
      out[t * ldo + j] = s;
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
// front to back: the rows of a block are contiguous, so the whole call is one sequential stream, which the
// hardware prefetchers follow at the full read bandwidth. Measured on a Zen 4 EPYC, 1 thread, a 65 MB F16
// matrix (bench/micro/matvec.cpp): this loop streams at the probed limit (17.7 of 17.7 GB/s on file-mapped
// pages, 27.9 of 27.7 on huge pages), where 4 or 8 interleaved rows with or without prefetch reached 9-13
// GB/s. The S::P chains of matmul_tile's order run side by side: with 8 lanes one chain is bound by the FMA
// latency (AVX2, 1 thread, 7 MB F16 / BF16, bench/micro/matvec_avx2.cpp: 1 chain 9.8-11.0 GB/s, 2 chains
// 13.4-14.6, 4 chains 13.5-15.6, plain read 17.0-18.4; two or four contiguous parts of a row, several streams,
// 7.2-13.2). The rows also ask for their bytes 4 KB ahead: BF16 (two integer ops per conversion, where F16
// has one), AVX2 EPYC, 2 threads, the 1024-wide bf16 model, alternating builds: decode 38.0-42.7 -> 41.9-46.3
// tok/s (F16 the same within the noise there: 42.5-48.5 vs 40.8-49.3); F16 on the AVX-512 Xeon, 2 threads,
// 3 alternating runs of 128 tokens: 57.1-58.2 -> 64.7-68.7 tok/s (the probed read limit).
constexpr int64_t kMatvecPrefetchAhead = 4096;
template <class S, DType WT>
static void matvec_rows(float* out, const float* x, int64_t K, const void* w, int64_t o0, int64_t o1) {
  using V = typename S::V;
  using WE = typename S::template Elem<WT>;
  constexpr int P = S::P;
  constexpr int64_t step = int64_t(S::W) * P;
  const int64_t kv = K / S::W * S::W;
  for (int64_t o = o0; o < o1; ++o) {
    const WE* wr = static_cast<const WE*>(w) + o * K;
    V acc[P];
    for (int p = 0; p < P; ++p) acc[p] = S::zero();
    int64_t k = 0;
    for (; k + step <= kv; k += step) {
      if constexpr (WT != DType::F32) __builtin_prefetch(reinterpret_cast<const char*>(wr + k) + kMatvecPrefetchAhead, 0, 3);
      for (int p = 0; p < P; ++p) acc[p] = S::fma(S::load_f32(x + k + p * S::W), S::template load_w<WT>(wr + k + p * S::W), acc[p]);
    }
    for (int p = 0; k < kv; k += S::W, ++p) acc[p] = S::fma(S::load_f32(x + k), S::template load_w<WT>(wr + k), acc[p]);
    V sum = acc[0];
    for (int p = 1; p < P; ++p) sum = S::add(sum, acc[p]);
    float s = S::hsum(sum);
    for (k = kv; k < K; ++k) s = __builtin_fmaf(x[k], load_as_f32(wr, WT, size_t(k)), s);
    out[o] = s;
  }
}

// The NT rows of w at row o as F32 into panel[NT, K] in chain-major layout (16-bit weights converted once
// per block).
template <class S, DType WT, int NT>
static inline void convert_panel(float* panel, int64_t K, const void* w, int64_t o) {
  using WE = typename S::template Elem<WT>;
  for (int j = 0; j < NT; ++j) to_chain_major<S, WT>(panel + j * K, static_cast<const WE*>(w) + (o + j) * K, K);
}

// All token tiles of one NT-row block of w (dtype WT) at row `o`.
template <class S, DType WT, int NT>
static inline void matmul_block_tokens(float* out, int64_t ldo, const float* x, int64_t T, int64_t K, const void* w,
                                       int64_t o) {
  constexpr int MT = S::MT;
  int64_t t = 0;
  for (; t + MT <= T; t += MT) matmul_tile<S, WT, MT, NT>(out + t * ldo, ldo, x + t * K, K, w, o);
  if (t < T) matmul_tokens_tail<S, WT, MT - 1, NT>(out + t * ldo, ldo, x + t * K, T - t, K, w, o);
}

template <class S, DType WT>
static void matmul_range(float* out, int64_t ldo, const float* x, int64_t T, int64_t K, const void* w,
                         int64_t o0, int64_t o1) {
  constexpr int NT = S::NT, PMT = S::PMT, PNT = S::PNT;
  int64_t o = o0;
  if (T == 1) { matvec_rows<S, WT>(out, x, K, w, o0, o1); return; }
  // A GEMM (prefill) wants a large tile: NT weight rows reused by every token tile from L1 / L2. With 16-bit
  // weights and more than one token tile, the block is converted once to an F32 panel in chain-major layout
  // and x copied once to the same layout, so that the PMT x PNT tile sums each chain front to back, chunk by
  // chunk (matmul_block_cm), with all its registers (the conversions also leave the inner loop: on many cores
  // they share ports with the FMAs). The values and the sum order, and so the sums, are those of the direct
  // tile. The scratch is 64-byte aligned: on 16-byte boundaries every AVX-512 load split across two cache
  // lines (bench/micro/gemm.cpp, 1 thread, T 32, K 1024 x O 3584: 88 -> 128 GFLOP/s).
  thread_local AlignedVector<float> panel, xcm, sums;
  const size_t nsum = size_t(T) * PNT * S::W;
  bool packed = WT != DType::F32 && T > PMT;
  if (packed && (panel.size() < size_t(PNT * K) || xcm.size() < size_t(T * K) || sums.size() < 2 * nsum)) {
    try {  // runs on pool threads: never throw
      panel.resize(std::max(panel.size(), size_t(PNT * K)));
      xcm.resize(std::max(xcm.size(), size_t(T * K)));
      sums.resize(std::max(sums.size(), 2 * nsum));
    } catch (...) { packed = false; }
  }
  if (packed) {
    for (int64_t t = 0; t < T; ++t) to_chain_major<S, DType::F32>(xcm.data() + t * K, x + t * K, K);
    for (; o + PNT <= o1; o += PNT) {
      convert_panel<S, WT, PNT>(panel.data(), K, w, o);
      constexpr int64_t es = sizeof(typename S::template Elem<WT>);
      const int64_t ahead = o + kPanelsAhead * PNT, next = std::clamp<int64_t>(o1 - ahead, 0, PNT) * K * es;
      matmul_block_cm<S, PNT>(out + o, ldo, xcm.data(), T, K, panel.data(), sums.data(), sums.data() + nsum,
                              next ? static_cast<const char*>(w) + ahead * K * es : nullptr, next);
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
