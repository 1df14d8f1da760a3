// Element types of stored weights: plain floats (F32, F16, BF16) and ggml's block-quantized types, with
// their storage geometry (a row of `cols` elements is cols / block_elems blocks of block_bytes each) and
// the scalar conversions to fp32. Vectorized conversions (done in registers) live in the CPU kernels;
// these are the portable fallbacks. The block layouts themselves are in cpu/quant_blocks.h.
#pragma once
#include <cstdint>
#include <cstring>
#include <cstddef>
#include <string>

namespace smoe {

enum class DType : int32_t {
  F32 = 0, F16 = 1, BF16 = 2,
  // ggml's quantized types (ggml-common.h), blocks of 32 elements ...
  Q8_0 = 3, Q4_0 = 4, Q4_1 = 5, Q5_0 = 6, Q5_1 = 7,
  // ... and k-quant super-blocks of 256.
  Q2_K = 8, Q3_K = 9, Q4_K = 10, Q5_K = 11, Q6_K = 12,
  // The CPU backend's own layouts, never read from a file: eight rows of Q8_0 / Q4_K interleaved block by
  // block (cpu/repack.h), made at load for the x86 kernels. Same bytes per row on average as the base type.
  Q8_0_R8 = 13, Q4_K_R8 = 14,
};
constexpr int kFileDTypeCount = 13;  // the types a checkpoint may name (F32 .. Q6_K)
constexpr int kDTypeCount = 15;

struct DTypeInfo {
  const char* name;  // the ggml / safetensors name ("Q4_K", "F16", ...)
  int block_elems;   // elements per block (1 for plain floats)
  int block_bytes;   // bytes per block
};

inline const DTypeInfo& dtype_info(DType t) {
  static const DTypeInfo info[kDTypeCount] = {
      {"F32", 1, 4},     {"F16", 1, 2},      {"BF16", 1, 2},
      {"Q8_0", 32, 34},  {"Q4_0", 32, 18},   {"Q4_1", 32, 20},   {"Q5_0", 32, 22},  {"Q5_1", 32, 24},
      {"Q2_K", 256, 84}, {"Q3_K", 256, 110}, {"Q4_K", 256, 144}, {"Q5_K", 256, 176}, {"Q6_K", 256, 210},
      {"Q8_0x8", 32, 34}, {"Q4_Kx8", 256, 144},
  };
  return info[int(t)];
}
inline const char* dtype_name(DType t) { return dtype_info(t).name; }
inline bool is_quantized(DType t) { return dtype_info(t).block_elems > 1; }
inline int block_elems(DType t) { return dtype_info(t).block_elems; }
// Bytes of one row of `cols` elements (cols must be a multiple of block_elems).
inline size_t row_bytes(DType t, int64_t cols) {
  const DTypeInfo& i = dtype_info(t);
  return size_t(cols / i.block_elems) * size_t(i.block_bytes);
}
// The file dtype with this name, or false (the CPU's interleaved layouts are never named by a file).
inline bool dtype_from_name(const std::string& name, DType& out) {
  for (int i = 0; i < kFileDTypeCount; ++i)
    if (name == dtype_info(DType(i)).name) { out = DType(i); return true; }
  return false;
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

// Element i of a plain-float tensor (F32 / F16 / BF16) as fp32. Quantized rows go through cpu/dequant.h.
inline float load_as_f32(const void* p, DType t, size_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default: return 0.f;
  }
}

}  // namespace smoe
