// Matmul with ggml-quantized weights on the CPU, the way llama.cpp's CPU backend computes it: the F32
// activation is quantized once per matmul to 8 bits (the "activation format" of the weight type), and each
// output is a sum of integer dot products of weight blocks with activation blocks, scaled in fp32.
//
// Interface (for CpuBackend and anything that computes row ranges, e.g. a fused experts pass):
//
//   ActFormat f = act_format(w.dtype);            // F32 for F32/F16/BF16 weights; Q8_0, Q8_1 or Q8_K else
//   size_t rb = act_row_bytes(f, K);              // bytes of one prepared token row
//   quantize_act_rows(f, x, K, t0, t1, buf);      // rows [t0, t1) of x[T, K] -> buf + t * rb (thread-safe
//                                                 // for disjoint row ranges; once per matmul, not per row)
//   QuantMatmulFn qmm = quant_matmul_kernel(simd); // "avx512" (VNNI), "avx2" or "generic" (simd_select.cpp)
//   qmm(out, ldo, buf, T, K, w.data, w.dtype, w.rows, o0, o1);
//       // out[t * ldo + o] = dot(w row o, prepared row t) for t in [0, T), o in [o0, o1)
//
// CpuBackend wraps this as PreparedX / prepare_x() / matmul_rows() (cpu_backend.h): one call that takes any
// weight dtype, F32/F16/BF16 included.
//
// Which activation format each weight type consumes (ggml-cpu.c, type_traits_cpu[].vec_dot_type):
//   Q8_0, Q4_0, Q5_0 -> Q8_0;   Q4_1, Q5_1 -> Q8_1;   Q2_K, Q3_K, Q4_K, Q5_K, Q6_K -> Q8_K.
// The activation rounding is ggml's x86 build's (quantize_row_q8_0 / _q8_1 with AVX2: scale 127 / amax,
// round half to even; quantize_row_q8_K_ref: scale -127 / max, nearest_int), so a matmul sees the same
// 8-bit activations llama.cpp does; only the order of the fp32 sums differs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/dtype.h"

namespace smoe::cpu {

enum class ActFormat : int { F32 = 0, Q8_0 = 1, Q8_1 = 2, Q8_K = 3 };
constexpr int kActFormats = 4;

ActFormat act_format(DType w);
// Bytes of one token row of K elements in format f (K a multiple of the format's block; F32: K * 4).
size_t act_row_bytes(ActFormat f, int64_t K);
// dst + t * act_row_bytes(f, K) = row t of x[., K] in format f, for t in [t0, t1). f != F32.
void quantize_act_rows(ActFormat f, const float* x, int64_t K, int64_t t0, int64_t t1, void* dst);

// out[t * ldo + o] = sum_k w[o, k] * x[t, k] for t in [0, T), o in [o0, o1), with w quantized (wt) and x the
// prepared rows in act_format(wt).
// rows: w's row count (where the interleaved types, repack.h, end their groups of 8).
using QuantMatmulFn = void (*)(float* out, int64_t ldo, const void* xq, int64_t T, int64_t K, const void* w, DType wt,
                               int64_t rows, int64_t o0, int64_t o1);

}  // namespace smoe::cpu
