// The scale searches of ggml's k-quants (ggml-quants.c: nearest_int, make_qx_quants, make_q3_quants,
// make_qkx2_quants), in the same order of float operations, so that the chosen scales and quants are the
// same bits as llama-quantize's. x is one sub-block of n values; L receives its quant levels.
#pragma once
#include <cstdint>
#include <cstring>

namespace smoe::quant {

constexpr float kGroupMaxEps = 1e-15f;  // GROUP_MAX_EPS: a sub-block whose max |x| is below this is zero

// Round to nearest (ties to even) for |v| <= 2^22, by adding 1.5 * 2^23 and reading the mantissa.
inline int nearest_int(float v) {
  float f = v + 12582912.f;
  int32_t i; std::memcpy(&i, &f, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// The value of largest magnitude in x[0..n) with its sign (the first one on ties), as ggml's searches find it.
inline float signed_absmax(int n, const float* x) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = x[i] < 0 ? -x[i] : x[i];
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  return max;
}

// Symmetric levels in [-nmax, nmax-1] (stored as L + nmax) and the scale that minimizes the weighted squared
// error, trying 18 scales around nmax / max|x|. rmse_type 1 weighs each x by x^2 (the only kind Q6_K uses).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type);

// Q3_K's symmetric levels in [-nmax, nmax-1] (stored as L + nmax); with do_rmse, up to 5 passes that move
// single levels while that lowers the x^2-weighted error.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);

// Asymmetric levels in [0, nmax] with a scale and a min (returned as -min in *the_min), searching nstep + 1
// scales (nmax + rmin + rdelta * is) / (max - min) by weighted least squares; use_mad weighs |error| instead
// of error^2. Laux is scratch of n entries.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

}  // namespace smoe::quant
