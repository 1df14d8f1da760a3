// fp32 -> fp16 / bf16 exactly as ggml converts them. fp16: GGML_FP32_TO_FP16 (ggml_compute_fp32_to_fp16): round to nearest even done
// with float arithmetic on rescaled values. Scales of quantized blocks go through it, so it decides bytes.
// Finite inputs give the same bits as an IEEE round-to-nearest-even conversion; NaN becomes 0x7E00 (signed).
#pragma once
#include <cstdint>
#include <cstring>

namespace smoe::quant {

inline uint16_t ggml_fp16(float f) {
  auto bits = [](float v) { uint32_t u; std::memcpy(&u, &v, 4); return u; };
  auto from_bits = [](uint32_t u) { float v; std::memcpy(&v, &u, 4); return v; };
  const float scale_to_inf = 0x1.0p+112f, scale_to_zero = 0x1.0p-110f;
  float base = (__builtin_fabsf(f) * scale_to_inf) * scale_to_zero;
  const uint32_t w = bits(f), shl1_w = w + w, sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = from_bits((bias >> 1) + 0x07800000u) + base;
  const uint32_t b = bits(base);
  const uint32_t exp_bits = (b >> 13) & 0x00007C00u, mantissa_bits = b & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return uint16_t((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

// fp32 -> bfloat16 as ggml's GGML_FP32_TO_BF16: round to nearest even; NaN stays NaN (made quiet).
inline uint16_t ggml_bf16(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 64);
  return uint16_t((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

}  // namespace smoe::quant
