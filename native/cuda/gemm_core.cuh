// The GEMM building blocks shared by matmul.cu (dense projections) and grouped_gemm.cu (the MoE experts).
//
// Every kernel computes, for rows r of a (possibly grouped) activation matrix and outputs n < N,
//   acc1[r, n] = sum_k A[r, k] * W1[n, k]     (and acc3 with W3 for the fused gate/up projection)
// with W in its stored dtype, row-major [N, K] (PyTorch Linear layout), converted to fp32 (or fed to tensor
// cores as bf16) in registers, and fp32 accumulation. MODE says where rows come from and go to:
//   kDense : A row r = a[r, :]                              -> out[r * ldo + n] = acc1
//   kGateUp: A row = x[slots[pos] / top_k, :] (a gather)    -> out[pos * ldo + n] = silu(acc1) * acc3
//   kDown  : A row = hidden[pos, :]                         -> out[slots[pos] * ldo + n] = route_w[slots[pos]] * acc1
// where pos runs over an expert's group offsets[e] .. offsets[e + 1] of the routing plan (grouped modes),
// so one launch serves every expert: blocks map to (expert, row tile) on the device, there is no host loop
// over experts and no capacity padding (an expert's last tile is partial, empty experts get no tiles).
//
// Three implementations:
//   gemv_kernel     : decode (few rows per group). One warp per output row n streams W[n, :] once with 16-byte
//                     loads and applies it to up to 8 rows of its group at a time (register accumulators),
//                     so each weight is read from memory once per 8 tokens of an expert: memory-bound, ~peak BW.
//   simt_gemm_kernel: prefill in fp32 precision (or F16/F32 weights): 64x64 tiles, 16-deep k steps through
//                     shared memory, 4x4 outputs per thread, fp32 FMA.
//   mma_gemm_kernel : prefill in bf16 precision with BF16 weights: 64x64x32 tiles, 4 warps of 32x32, tensor
//                     cores through mma.sync.m16n8k16 (bf16 x bf16 -> fp32), activations rounded to bf16 when
//                     staged into shared memory. Compiled for sm_80+ (Ampere, Ada, Hopper).
#pragma once
#include "common.cuh"
#include "cuda_check.h"
#include "kernels.h"

namespace smoe::cuda {

enum GemmMode { kDense = 0, kGateUp = 1, kDown = 2 };

struct GemmParams {
  const float* a;           // activations: x [rows, K] (dense, gate/up) or hidden [T*top_k, K] (down)
  float* out;
  size_t ldo;               // row stride of out, in floats
  int K, N;                 // reduction length, outputs per row
  int M;                    // dense: rows
  int groups;               // grouped: experts
  const int32_t* offsets;   // grouped: [groups + 1]
  const int32_t* slots;     // grouped: [T * top_k], entry = token * top_k + j
  const float* route_w;     // down: [T * top_k] routing weights by slot
  int top_k;
  int vec;                  // 1 when K % 8 == 0 and a, w are 16-byte aligned: vector loads allowed
  const void* w1[kMaxExperts];  // per group: W1 (dense: [0] only)
  const void* w3[kMaxExperts];  // gate/up: W3
};

template <int MODE>
__device__ __forceinline__ const float* a_row(const GemmParams& p, int pos) {
  if constexpr (MODE == kGateUp) return p.a + size_t(p.slots[pos] / p.top_k) * p.K;
  else return p.a + size_t(pos) * p.K;
}

template <int MODE>
__device__ __forceinline__ void store_out(const GemmParams& p, int pos, int n, float v1, float v3) {
  if constexpr (MODE == kDense) p.out[size_t(pos) * p.ldo + n] = v1;
  else if constexpr (MODE == kGateUp) p.out[size_t(pos) * p.ldo + n] = swiglu(v1, v3);
  else {
    const int slot = p.slots[pos];
    p.out[size_t(slot) * p.ldo + n] = p.route_w[slot] * v1;
  }
}

// The rows [r0, r1) and group e of row tile `tile` (tiles of BM rows, numbered across groups in order).
template <int MODE, int BM>
__device__ __forceinline__ bool tile_rows(const GemmParams& p, int tile, int& e, int& r0, int& r1) {
  if constexpr (MODE == kDense) {
    e = 0; r0 = tile * BM; r1 = p.M;
    return r0 < r1;
  } else {
    for (int g = 0; g < p.groups; ++g) {
      const int b = p.offsets[g], n = p.offsets[g + 1] - b, tiles = (n + BM - 1) / BM;
      if (tile < tiles) { e = g; r0 = b + tile * BM; r1 = b + n; return true; }
      tile -= tiles;
    }
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// gemv_kernel: grid (ceil(N / 8), groups), 256 threads = 8 warps, warp w of block x computes output n = 8x + w
// for every row of group blockIdx.y (dense: all M rows), 8 rows per pass.
constexpr int kGemvWarps = 8, kGemvRows = 8;
constexpr int kGemvMaxTokens = 16;  // launchers use this path when T <= 16

template <DType WT, int MODE>
__global__ void __launch_bounds__(256) gemv_kernel(const __grid_constant__ GemmParams p) {
  constexpr bool DUAL = MODE == kGateUp;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int n = blockIdx.x * kGemvWarps + warp;
  int e = 0, r0 = 0, r1 = p.M;
  if constexpr (MODE != kDense) { e = blockIdx.y; r0 = p.offsets[e]; r1 = p.offsets[e + 1]; }
  if (n >= p.N || r0 >= r1) return;  // warp-uniform; no block-wide synchronization below
  const void* w1 = p.w1[e];
  const void* w3 = DUAL ? p.w3[e] : nullptr;
  const size_t wrow = size_t(n) * p.K;
  for (int c0 = r0; c0 < r1; c0 += kGemvRows) {
    const int nr = min(kGemvRows, r1 - c0);
    const float* xr[kGemvRows];
    float acc1[kGemvRows], acc3[kGemvRows];
#pragma unroll
    for (int i = 0; i < kGemvRows; ++i) {
      xr[i] = a_row<MODE>(p, c0 + min(i, nr - 1));
      acc1[i] = 0.f; acc3[i] = 0.f;
    }
    if (p.vec) {
#pragma unroll 2
      for (int k = lane * 8; k < p.K; k += 32 * 8) {
        float wa[8], wb[8];
        load_w8<WT>(w1, wrow + k, wa);
        if constexpr (DUAL) load_w8<WT>(w3, wrow + k, wb);
#pragma unroll
        for (int i = 0; i < kGemvRows; ++i) {
          if (i < nr) {
            const float4 x0 = *reinterpret_cast<const float4*>(xr[i] + k);
            const float4 x1 = *reinterpret_cast<const float4*>(xr[i] + k + 4);
            const float xv[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
#pragma unroll
            for (int j = 0; j < 8; ++j) {
              acc1[i] = fmaf(xv[j], wa[j], acc1[i]);
              if constexpr (DUAL) acc3[i] = fmaf(xv[j], wb[j], acc3[i]);
            }
          }
        }
      }
    } else {
      for (int k = lane; k < p.K; k += 32) {
        const float wa = load_w<WT>(w1, wrow + k);
        const float wb = DUAL ? load_w<WT>(w3, wrow + k) : 0.f;
#pragma unroll
        for (int i = 0; i < kGemvRows; ++i) {
          if (i < nr) {
            acc1[i] = fmaf(xr[i][k], wa, acc1[i]);
            if constexpr (DUAL) acc3[i] = fmaf(xr[i][k], wb, acc3[i]);
          }
        }
      }
    }
#pragma unroll
    for (int i = 0; i < kGemvRows; ++i) {
      if (i < nr) {  // nr is warp-uniform, so every lane takes part in the reductions
        const float v1 = warp_sum(acc1[i]);
        const float v3 = DUAL ? warp_sum(acc3[i]) : 0.f;
        if (lane == 0) store_out<MODE>(p, c0 + i, n, v1, v3);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// simt_gemm_kernel: grid (ceil(N / 64), row tiles), 256 threads; thread (ty, tx) = (tid / 16, tid % 16) owns
// rows ty + 16i and outputs tx + 16j (i, j < 4) of the 64x64 tile. Shared tiles are k-major:
// As[k][row], Ws[k][n] (fp32; weights converted on the way in).
constexpr int kSimtBM = 64, kSimtBN = 64, kSimtBK = 16;

template <DType WT, int MODE>
__global__ void __launch_bounds__(256) simt_gemm_kernel(const __grid_constant__ GemmParams p) {
  constexpr bool DUAL = MODE == kGateUp;
  int e, r0, r1;
  if (!tile_rows<MODE, kSimtBM>(p, blockIdx.y, e, r0, r1)) return;  // block-uniform
  const int n0 = blockIdx.x * kSimtBN, tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  __shared__ float As[kSimtBK][kSimtBM + 4];
  __shared__ float Ws[kSimtBK][kSimtBN + 4];
  __shared__ float W3s[DUAL ? kSimtBK : 1][kSimtBN + 4];
  __shared__ const float* arow[kSimtBM];
  if (tid < kSimtBM) arow[tid] = r0 + tid < r1 ? a_row<MODE>(p, r0 + tid) : nullptr;
  __syncthreads();
  const void* w1 = p.w1[e];
  const void* w3 = DUAL ? p.w3[e] : nullptr;
  float acc1[4][4], acc3[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) { acc1[i][j] = 0.f; acc3[i][j] = 0.f; }
  for (int k0 = 0; k0 < p.K; k0 += kSimtBK) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int idx = tid + 256 * i, r = idx >> 4, kk = idx & 15, k = k0 + kk;
      const float* ar = arow[r];
      As[kk][r] = (ar != nullptr && k < p.K) ? ar[k] : 0.f;
      const int n = n0 + r;  // the same 64 x 16 shape for the weight tile
      const bool ok = n < p.N && k < p.K;
      Ws[kk][r] = ok ? load_w<WT>(w1, size_t(n) * p.K + k) : 0.f;
      if constexpr (DUAL) W3s[kk][r] = ok ? load_w<WT>(w3, size_t(n) * p.K + k) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kSimtBK; ++kk) {
      float av[4], bv[4], cv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        bv[j] = Ws[kk][tx + 16 * j];
        if constexpr (DUAL) cv[j] = W3s[kk][tx + 16 * j];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          acc1[i][j] = fmaf(av[i], bv[j], acc1[i][j]);
          if constexpr (DUAL) acc3[i][j] = fmaf(av[i], cv[j], acc3[i][j]);
        }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int pos = r0 + ty + 16 * i, n = n0 + tx + 16 * j;
      if (pos < r1 && n < p.N) store_out<MODE>(p, pos, n, acc1[i][j], acc3[i][j]);
    }
}

// ---------------------------------------------------------------------------------------------------------
// mma_gemm_kernel: grid (ceil(N / 64), row tiles), 128 threads = 4 warps in a 2 x 2 grid, each warp a 32 x 32
// sub-tile = 2 (m16) x 4 (n8) mma.sync.m16n8k16 tiles per 16-deep k step. Shared tiles are row-major with the
// k dimension contiguous and padded by 8 bf16 (rows 80 bytes apart), which makes the fragment loads below
// free of bank conflicts: As[row][k] (activations as bf16), Ws[n][k] (weights, already bf16).
// Fragment layouts (PTX ISA, mma.m16n8k16 with .bf16; g = lane / 4, t = lane % 4):
//   A (16 x 16, row-major): reg0 = A[g][2t..2t+1], reg1 = A[g+8][2t..], reg2 = A[g][2t+8..], reg3 = A[g+8][2t+8..]
//   B (16 x 8, "col"): reg0 = B[2t..2t+1][g], reg1 = B[2t+8..2t+9][g]; here B[k][n] = W[n][k], contiguous in k
//   C (16 x 8, fp32): c0, c1 = C[g][2t..2t+1], c2, c3 = C[g+8][2t..2t+1]
constexpr int kMmaBM = 64, kMmaBN = 64, kMmaBK = 32, kMmaLd = kMmaBK + 8;

// c (16 x 8 fp32 accumulator fragment) += A (16 x 16 bf16) x B (16 x 8 bf16) over the warp, with the fragment
// layouts above: the one place the tensor-core instruction is issued. With nvcc it is the PTX instruction; the
// SIMT emulation build computes it from the 32 lanes' fragments (emulate/simt_mma.cpp).
__device__ __forceinline__ void mma_m16n8k16_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
#if defined(SMOE_CUDA_EMULATE)
  ::smoe::emu::warp_mma_m16n8k16_bf16(c, a, b0, b1, c);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  __trap();  // never launched below sm_80 (device_info leaves such GPUs out)
#endif
}

template <int MODE>
__global__ void __launch_bounds__(128) mma_gemm_kernel(const __grid_constant__ GemmParams p) {
  constexpr bool DUAL = MODE == kGateUp;
  int e, r0, r1;
  if (!tile_rows<MODE, kMmaBM>(p, blockIdx.y, e, r0, r1)) return;  // block-uniform
  const int n0 = blockIdx.x * kMmaBN, tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3, wm = warp >> 1, wn = warp & 1;
  __shared__ __align__(16) uint16_t As[kMmaBM][kMmaLd];
  __shared__ __align__(16) uint16_t Ws[kMmaBN][kMmaLd];
  __shared__ __align__(16) uint16_t W3s[DUAL ? kMmaBN : 1][kMmaLd];
  __shared__ const float* arow[kMmaBM];
  if (tid < kMmaBM) arow[tid] = r0 + tid < r1 ? a_row<MODE>(p, r0 + tid) : nullptr;
  __syncthreads();
  const uint16_t* w1 = static_cast<const uint16_t*>(p.w1[e]);
  const uint16_t* w3 = DUAL ? static_cast<const uint16_t*>(p.w3[e]) : nullptr;
  float acc1[2][4][4], acc3[2][4][4];
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int c = 0; c < 4; ++c) { acc1[mi][ni][c] = 0.f; acc3[mi][ni][c] = 0.f; }

  for (int k0 = 0; k0 < p.K; k0 += kMmaBK) {
    // Activations: 64 rows x 32 k fp32 = 512 groups of 4, 4 per thread -> bf16 (round to nearest even).
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int idx = tid + 128 * i, r = idx >> 3, kq = (idx & 7) * 4, k = k0 + kq;
      const float* ar = arow[r];
      float v[4];
      if (ar != nullptr && p.vec && k + 3 < p.K) {
        const float4 f = *reinterpret_cast<const float4*>(ar + k);
        v[0] = f.x; v[1] = f.y; v[2] = f.z; v[3] = f.w;
      } else {
#pragma unroll
        for (int c = 0; c < 4; ++c) v[c] = (ar != nullptr && k + c < p.K) ? ar[k + c] : 0.f;
      }
      *reinterpret_cast<uint2*>(&As[r][kq]) = make_uint2(pack_bf16x2(v[0], v[1]), pack_bf16x2(v[2], v[3]));
    }
    // Weights: 64 rows x 32 k bf16 = 256 groups of 8 (16 bytes), 2 per thread, copied as they are.
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int idx = tid + 128 * i, nn = idx >> 2, kc = (idx & 3) * 8, n = n0 + nn, k = k0 + kc;
#pragma unroll
      for (int m = 0; m < (DUAL ? 2 : 1); ++m) {
        const uint16_t* w = m == 0 ? w1 : w3;
        uint4 u;
        if (n < p.N && p.vec && k + 7 < p.K) {
          u = __ldg(reinterpret_cast<const uint4*>(w + size_t(n) * p.K + k));
        } else {
          uint32_t h[8];
#pragma unroll
          for (int c = 0; c < 8; ++c) h[c] = (n < p.N && k + c < p.K) ? w[size_t(n) * p.K + k + c] : 0u;
          u = make_uint4(h[0] | h[1] << 16, h[2] | h[3] << 16, h[4] | h[5] << 16, h[6] | h[7] << 16);
        }
        if (m == 0) *reinterpret_cast<uint4*>(&Ws[nn][kc]) = u;
        else *reinterpret_cast<uint4*>(&W3s[DUAL ? nn : 0][kc]) = u;
      }
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kMmaBK; kk += 16) {
      uint32_t af[2][4];
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) {
        const int rb = wm * 32 + mi * 16;
        af[mi][0] = *reinterpret_cast<const uint32_t*>(&As[rb + g][kk + 2 * t]);
        af[mi][1] = *reinterpret_cast<const uint32_t*>(&As[rb + g + 8][kk + 2 * t]);
        af[mi][2] = *reinterpret_cast<const uint32_t*>(&As[rb + g][kk + 2 * t + 8]);
        af[mi][3] = *reinterpret_cast<const uint32_t*>(&As[rb + g + 8][kk + 2 * t + 8]);
      }
#pragma unroll
      for (int ni = 0; ni < 4; ++ni) {
        const int cb = wn * 32 + ni * 8;
        const uint32_t b0 = *reinterpret_cast<const uint32_t*>(&Ws[cb + g][kk + 2 * t]);
        const uint32_t b1 = *reinterpret_cast<const uint32_t*>(&Ws[cb + g][kk + 2 * t + 8]);
#pragma unroll
        for (int mi = 0; mi < 2; ++mi) mma_m16n8k16_bf16(acc1[mi][ni], af[mi], b0, b1);
        if constexpr (DUAL) {
          const uint32_t c0 = *reinterpret_cast<const uint32_t*>(&W3s[cb + g][kk + 2 * t]);
          const uint32_t c1 = *reinterpret_cast<const uint32_t*>(&W3s[cb + g][kk + 2 * t + 8]);
#pragma unroll
          for (int mi = 0; mi < 2; ++mi) mma_m16n8k16_bf16(acc3[mi][ni], af[mi], c0, c1);
        }
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int row = wm * 32 + mi * 16 + g + (c >= 2 ? 8 : 0);
        const int n = n0 + wn * 32 + ni * 8 + 2 * t + (c & 1);
        const int pos = r0 + row;
        if (pos < r1 && n < p.N) store_out<MODE>(p, pos, n, acc1[mi][ni][c], acc3[mi][ni][c]);
      }
}

// Launches the right implementation for `rows` rows (dense: M; grouped: T * top_k over `p.groups` groups),
// `tokens` = T decides decode (GEMV) against prefill (tiles). Defined once, used by both .cu files.
template <int MODE>
void launch_gemm(const GemmParams& p, DType wt, int tokens, int rows, Precision prec, cudaStream_t s,
                 const char* what) {
  if (rows <= 0 || p.N <= 0) return;
  const unsigned groups = MODE == kDense ? 1u : unsigned(p.groups);
  if (tokens <= kGemvMaxTokens) {
    const dim3 grid(ceil_div(size_t(p.N), kGemvWarps), groups);
    switch (wt) {
      case DType::F32: SMOE_LAUNCH(grid, 256, 0, s, gemv_kernel<DType::F32, MODE>)(p); break;
      case DType::F16: SMOE_LAUNCH(grid, 256, 0, s, gemv_kernel<DType::F16, MODE>)(p); break;
      case DType::BF16: SMOE_LAUNCH(grid, 256, 0, s, gemv_kernel<DType::BF16, MODE>)(p); break;
    default: throw Error("UNSUPPORTED_QUANT", std::string(what) + ": the CUDA backend computes F32 / F16 / BF16 weights only (got " + dtype_name(wt) + ")");
    }
    check_launch(what, s);
    return;
  }
  if (prec == Precision::BF16 && wt == DType::BF16) {
    const unsigned tiles = ceil_div(size_t(rows), kMmaBM) + (MODE == kDense ? 0u : groups);
    SMOE_LAUNCH(dim3(ceil_div(size_t(p.N), kMmaBN), tiles), 128, 0, s, mma_gemm_kernel<MODE>)(p);
    check_launch(what, s);
    return;
  }
  const unsigned tiles = ceil_div(size_t(rows), kSimtBM) + (MODE == kDense ? 0u : groups);
  const dim3 grid(ceil_div(size_t(p.N), kSimtBN), tiles);
  switch (wt) {
    case DType::F32: SMOE_LAUNCH(grid, 256, 0, s, simt_gemm_kernel<DType::F32, MODE>)(p); break;
    case DType::F16: SMOE_LAUNCH(grid, 256, 0, s, simt_gemm_kernel<DType::F16, MODE>)(p); break;
    case DType::BF16: SMOE_LAUNCH(grid, 256, 0, s, simt_gemm_kernel<DType::BF16, MODE>)(p); break;
    default: throw Error("UNSUPPORTED_QUANT", std::string(what) + ": the CUDA backend computes F32 / F16 / BF16 weights only (got " + dtype_name(wt) + ")");
  }
  check_launch(what, s);
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace smoe::cuda
