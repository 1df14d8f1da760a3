// Host implementations of the CUDA bf16 / fp16 types and conversions the kernels use, bit-exact with the
// CUDA toolkit's: float -> bf16 rounds to nearest even (NaN -> the canonical 0x7fff), half -> float is exact
// (subnormals, infinities and NaNs included), float -> half rounds to nearest even.
#pragma once
#include <cstdint>
#include <cstring>

struct __nv_bfloat16 { unsigned short __x; };
struct __nv_bfloat162 { __nv_bfloat16 x, y; };
struct __half { unsigned short __x; };

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return __nv_bfloat16{0x7fff};
  return __nv_bfloat16{static_cast<unsigned short>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
}
inline float __bfloat162float(__nv_bfloat16 b) {
  const uint32_t u = uint32_t(b.__x) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return {__float2bfloat16_rn(a), __float2bfloat16_rn(b)}; }

inline __half __ushort_as_half(unsigned short u) { return __half{u}; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline float __half2float(__half h) {
  const uint32_t s = uint32_t(h.__x & 0x8000u) << 16, e = (h.__x >> 10) & 0x1fu, m = h.__x & 0x3ffu;
  uint32_t u;
  if (e == 0x1f) u = s | 0x7f800000u | (m << 13);  // inf, NaN (payload kept)
  else if (e != 0) u = s | ((e + 112u) << 23) | (m << 13);
  else if (m == 0) u = s;
  else {  // subnormal: normalize
    int ee = 113;
    uint32_t mm = m;
    while (!(mm & 0x400u)) { mm <<= 1; --ee; }
    u = s | (uint32_t(ee) << 23) | ((mm & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
