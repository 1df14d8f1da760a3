// SwiGLU's elementwise step, h[i] = silu(h[i]) * g[i] = h / (1 + exp(-h)) * g, four lanes at a time
// (vec4.h): exp is Cephes' single-precision expf (range reduction by ln 2 in two parts, degree-6
// polynomial, 2^n built in the exponent bits; within 1 ulp of the true value in fp32 over its range) written
// without branches or float-to-int conversions, so every lane and every target computes the same bits.
// Past the ends of that range: exp(-h) is inf where -h > 88.72 (silu -0, as std::exp gives), and held at
// exp(88.376) or exp(-87.336) in between, where 1 + exp(-h) rounds the same or silu is below 1e-36 anyway.
// NaN stays NaN.
#pragma once
#include <cstdint>
#include <cstring>

#include "vec4.h"

namespace smoe::cpu {

inline F4 exp_core(F4 x) {  // x in [-87.3365, 88.3762]: within 1 ulp of e^x
  const float kLog2e = 1.44269504088896341f, kC1 = 0.693359375f, kC2 = -2.12194440e-4f;
  const F4 t = x * kLog2e + kRoundMagic;    // round(x * log2 e) in the low bits (vec4.h)
  const F4 n = t - kRoundMagic;              // the same as a float
  const F4 r = (x - n * kC1) - n * kC2;      // x - n ln 2, in two parts
  F4 p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const F4 y = (p * (r * r) + r) + 1.0f;
  const U4 sb = ((U4)t - round_magic_bits() + 127u) << 23;  // 2^n: n + 127 in the exponent field
  return y * (F4)sb;
}

inline F4 silu_mul4(F4 a, F4 g) {
  const F4 x = -a;
  const F4 lo = x < -87.3365f ? splat4(-87.3365f) : x;
  const F4 xc = lo > 88.3762f ? splat4(88.3762f) : lo;
  const F4 e = x > 88.7228f ? splat4(__builtin_inff()) : exp_core(xc);
  return a / (1.0f + e) * g;
}

inline void silu_mul(float* h, const float* g, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    store4(h + i, silu_mul4(load4(h + i), load4(g + i)));
  }
  if (i < n) {  // the tail, in lanes padded with zeros
    F4 a{}, b{};
    std::memcpy(&a, h + i, size_t(n - i) * 4);
    std::memcpy(&b, g + i, size_t(n - i) * 4);
    a = silu_mul4(a, b);
    std::memcpy(h + i, &a, size_t(n - i) * 4);
  }
}

}  // namespace smoe::cpu
