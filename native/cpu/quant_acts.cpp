// Quantization of F32 activation rows into the 8-bit blocks the quantized dot products read (quant_matmul.h),
// with ggml's x86 rounding exactly:
//   Q8_0 / Q8_1 (quantize_row_q8_0 / _q8_1, AVX2 path): per 32 values amax = max |x|, d = amax / 127,
//     q = round_half_even(x * (127 / amax)); Q8_1 adds s = fp16(d * sum(q)).
//   Q8_K (quantize_row_q8_K_ref): per 256 values max = the value of largest |x| (first one on ties),
//     iscale = -127 / max, q = min(127, nearest_int(iscale * x)), d = 1 / iscale, bsums = sums of 16.
// Layout: row t is K / block blocks at dst + t * act_row_bytes(f, K).
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "quant_blocks.h"
#include "quant_matmul.h"
#include "vec4.h"

namespace smoe::cpu {

ActFormat act_format(DType w) {
  switch (w) {
    case DType::Q8_0: case DType::Q8_0_R8: case DType::Q4_0: case DType::Q5_0: return ActFormat::Q8_0;
    case DType::Q4_1: case DType::Q5_1: return ActFormat::Q8_1;
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
    case DType::Q4_K_R8: return ActFormat::Q8_K;
    default: return ActFormat::F32;
  }
}

size_t act_row_bytes(ActFormat f, int64_t K) {
  switch (f) {
    case ActFormat::Q8_0: return size_t(K / QK) * sizeof(ActQ8_0);
    case ActFormat::Q8_1: return size_t(K / QK) * sizeof(ActQ8_1);
    case ActFormat::Q8_K: return size_t(K / QK_K) * sizeof(BlockQ8_K);
    default: return size_t(K) * sizeof(float);
  }
}

namespace {

// Four lanes at a time (vec4.h), the same values as the scalar definitions above: max |x| is exact in any
// order (NaN never wins a comparison, as with std::max), and the rounding is nearbyint's.
inline float max_abs(const float* x, int n) {
  F4 m{};
  for (int j = 0; j < n; j += 4) {
    const F4 a = abs4(load4(x + j));
    m = m < a ? a : m;
  }
  float amax = 0.f;
  for (int l = 0; l < 4; ++l) amax = std::max(amax, m[l]);
  return amax;
}

// q[j] = clamp(round(x[j] * s), lo, 127) for n (a multiple of 4) values; returns their sum.
inline int quantize_lanes(const float* x, float s, int lo, int n, int8_t* q) {
  I4 sum{};
  for (int j = 0; j < n; j += 4) {
    I4 v = round_even4(load4(x + j) * s);
    v = v > 127 ? I4{} + 127 : v;
    v = v < lo ? I4{} + lo : v;
    sum += v;
    for (int l = 0; l < 4; ++l) q[j + l] = int8_t(v[l]);
  }
  return sum[0] + sum[1] + sum[2] + sum[3];
}

// Writes fp16(d) (as a float) and the quants; returns d (in fp32) and the integer sum of the quants (for Q8_1).
float q8_block(const float* x, float& dh, int8_t* qs, int& sum) {
  const float amax = max_abs(x, QK);
  const float d = amax / 127.f;
  dh = f16_to_f32(f32_to_f16(d));
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  sum = quantize_lanes(x, id, -128, QK, qs);
  return d;
}

void q8_k_block(const float* x, BlockQ8_K& y) {
  const float amax = max_abs(x, QK_K);
  if (amax == 0.f) {
    y.d = 0.f;
    std::memset(y.qs, 0, sizeof(y.qs));
    std::memset(y.bsums, 0, sizeof(y.bsums));
    return;
  }
  int j = 0;
  while (std::fabs(x[j]) != amax) ++j;  // the first value of largest |x| (amax is one of them, not NaN)
  const float iscale = -127.f / x[j];
  for (int b = 0; b < QK_K / 16; ++b)
    y.bsums[b] = int16_t(quantize_lanes(x + b * 16, iscale, INT32_MIN, 16, y.qs + b * 16));
  y.d = 1 / iscale;
}

}  // namespace

void quantize_act_rows(ActFormat f, const float* x, int64_t K, int64_t t0, int64_t t1, void* dst) {
  const size_t rb = act_row_bytes(f, K);
  for (int64_t t = t0; t < t1; ++t) {
    const float* xr = x + t * K;
    char* row = static_cast<char*>(dst) + size_t(t) * rb;
    if (f == ActFormat::Q8_0) {
      auto* y = reinterpret_cast<ActQ8_0*>(row);
      int sum;
      for (int64_t b = 0; b < K / QK; ++b) {
        q8_block(xr + b * QK, y[b].d, y[b].qs, sum);
        y[b].m128 = -128 * sum;
      }
    } else if (f == ActFormat::Q8_1) {
      auto* y = reinterpret_cast<ActQ8_1*>(row);
      for (int64_t b = 0; b < K / QK; ++b) {
        int sum;
        const float d = q8_block(xr + b * QK, y[b].d, y[b].qs, sum);
        y[b].s = f16_to_f32(f32_to_f16(d * float(sum)));
      }
    } else if (f == ActFormat::Q8_K) {
      auto* y = reinterpret_cast<BlockQ8_K*>(row);
      for (int64_t b = 0; b < K / QK_K; ++b) q8_k_block(xr + b * QK_K, y[b]);
    }
  }
}

}  // namespace smoe::cpu
