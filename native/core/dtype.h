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
};
constexpr int kDTypeCount = 13;

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
// The dtype with this name, or false.
inline bool dtype_from_name(const std::string& name, DType& out) {
  for (int i = 0; i < kDTypeCount; ++i)
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

// float -> IEEE half, round to nearest even (as F16C's vcvtps2ph with imm 0), subnormals and overflow to inf
// included; NaN stays NaN.
inline uint16_t f32_to_f16(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  const uint32_t sign = (u >> 16) & 0x8000, a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return uint16_t(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0));
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // rounds past 65504
  if (a < 0x38800000u) {                                  // below the smallest normal half: subnormal or 0
    if (a < 0x33000000u) return uint16_t(sign);           // < 2^-25 rounds to 0 (2^-25 itself ties to even 0)
    const uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;                        // value = m * 2^(e-150); half ulp = 2^-24
    uint32_t h = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = ((a >> 13) - (112u << 10));  // rebias exponent 127 -> 15
  const uint32_t rem = a & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
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
