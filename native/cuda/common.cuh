// Device helpers shared by the kernels: weight element loads in the stored dtype (converted to fp32 in
// registers, exactly), warp reductions, and SiLU as the CPU computes it.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "../core/dtype.h"

// Kernel launches and dynamic shared memory, spelled so the SIMT emulation build (emulate/simt.h, compiled by
// the host compiler) can give them its meaning; with nvcc they are exactly the CUDA syntax:
//   SMOE_LAUNCH(grid, block, smem, stream, kernel)(args...)  ==  kernel<<<grid, block, smem, stream>>>(args...)
//   SMOE_DYNAMIC_SHARED(T, name);                            ==  extern __shared__ T name[];
#if !defined(SMOE_CUDA_EMULATE)
#define SMOE_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<grid, block, smem, stream>>>
#define SMOE_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

namespace smoe::cuda {

constexpr unsigned kFullMask = 0xffffffffu;

// The storage type of each weight dtype.
template <DType T> struct Stored;
template <> struct Stored<DType::F32> { using type = float; };
template <> struct Stored<DType::F16> { using type = uint16_t; };
template <> struct Stored<DType::BF16> { using type = uint16_t; };

__device__ __forceinline__ float bf16_bits_to_f32(uint32_t b) { return __uint_as_float(b << 16); }
__device__ __forceinline__ float f16_bits_to_f32(uint32_t b) { return __half2float(__ushort_as_half((unsigned short)b)); }

// Element i of a weight array of dtype T, as fp32 (exact).
template <DType T>
__device__ __forceinline__ float load_w(const void* w, size_t i) {
  if constexpr (T == DType::F32) return static_cast<const float*>(w)[i];
  else if constexpr (T == DType::F16) return f16_bits_to_f32(static_cast<const uint16_t*>(w)[i]);
  else return bf16_bits_to_f32(static_cast<const uint16_t*>(w)[i]);
}

// 8 consecutive weights starting at element i (16-byte aligned for 16-bit types, 32-byte for F32), as fp32.
template <DType T>
__device__ __forceinline__ void load_w8(const void* w, size_t i, float out[8]) {
  if constexpr (T == DType::F32) {
    const float4* p = reinterpret_cast<const float4*>(static_cast<const float*>(w) + i);
    const float4 a = __ldg(p), b = __ldg(p + 1);
    out[0] = a.x; out[1] = a.y; out[2] = a.z; out[3] = a.w; out[4] = b.x; out[5] = b.y; out[6] = b.z; out[7] = b.w;
  } else {
    const uint4 u = __ldg(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(w) + i));
    const uint32_t v[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if constexpr (T == DType::F16) {
        out[2 * j] = f16_bits_to_f32(v[j] & 0xffffu);
        out[2 * j + 1] = f16_bits_to_f32(v[j] >> 16);
      } else {
        out[2 * j] = bf16_bits_to_f32(v[j] & 0xffffu);
        out[2 * j + 1] = bf16_bits_to_f32(v[j] >> 16);
      }
    }
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// SwiGLU as the CPU computes it: silu(g) * u = g / (1 + exp(-g)) * u.
__device__ __forceinline__ float swiglu(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// Two fp32 values rounded to bf16 (round to nearest even), packed low = a, high = b.
__device__ __forceinline__ uint32_t pack_bf16x2(float a, float b) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(a, b);  // .x = a (low half), .y = b
  return *reinterpret_cast<const uint32_t*>(&v);
}

inline unsigned ceil_div(size_t a, size_t b) { return unsigned((a + b - 1) / b); }

}  // namespace smoe::cuda
