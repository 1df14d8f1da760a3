// Element types of stored weights and their scalar conversions to fp32.
// Vectorized conversions (done in registers) live in the CPU kernels; these are the portable fallbacks.
#pragma once
#include <cstdint>
#include <cstring>
#include <cstddef>

namespace smoe {

enum class DType : int32_t { F32 = 0, F16 = 1, BF16 = 2 };

inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }
inline const char* dtype_name(DType t) {
  switch (t) { case DType::F32: return "F32"; case DType::F16: return "F16"; case DType::BF16: return "BF16"; }
  return "?";
}

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16; float f; std::memcpy(&f, &u, 4); return f;
}

// IEEE half -> float, exact for normals, subnormals, inf and NaN.
inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (exp == 0) {
    if (man == 0) { u = sign; }
    else {  // subnormal: renormalize
      int e = -1;
      do { man <<= 1; ++e; } while (!(man & 0x400));
      u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) { u = sign | 0x7f800000u | man << 13; }
  else { u = sign | (exp + 127 - 15) << 23 | man << 13; }
  float f; std::memcpy(&f, &u, 4); return f;
}

// float -> IEEE half, round to nearest even (as numpy / torch .half()); overflow gives inf, NaN stays NaN.
inline uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));  // inf, NaN
  if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds past the largest half
  if (ax < 0x38800000u) {  // below 2^-14: a half subnormal (or zero), in units of 2^-24
    float a;
    std::memcpy(&a, &ax, 4);
    const float scaled = a * 16777216.0f;  // exact: a power-of-two scale
    uint32_t m = uint32_t(scaled);
    const float rem = scaled - float(m);
    if (rem > 0.5f || (rem == 0.5f && (m & 1u))) ++m;  // m may reach 0x400: the smallest normal, as encoded
    return uint16_t(sign | m);
  }
  const uint32_t r = ax - (uint32_t(127 - 15) << 23);  // rebias the exponent
  uint32_t h = r >> 13;
  const uint32_t rem = r & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry rolls into the exponent, as it should
  return uint16_t(sign | h);
}

inline float load_as_f32(const void* p, DType t, size_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
  return 0.f;
}

}  // namespace smoe
