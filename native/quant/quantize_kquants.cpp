// The k-quant quantizers (ggml-quants.c's quantize_row_{q2,q3,q4,q5,q6}_K_ref), one super-block of 256
// values at a time: each sub-block (16 or 32 values) gets its own scale (and min) from the searches in
// scale_search.h, the sub-block scales are quantized against the super-block's fp16 d (and dmin), and the
// values are then re-quantized with the scales as stored. Block layouts: cpu/quant_blocks.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "../cpu/quant_blocks.h"
#include "half_round.h"
#include "quantize.h"
#include "scale_search.h"

namespace smoe::quant {

using cpu::QK_K;

// Packs 2-bit levels as Q2_K / Q3_K store them: for each half of 128, byte l holds elements l, l+32, l+64, l+96.
static void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < QK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

// The scales of the 16 sub-blocks of 16 (levels into L) from `search`, and the one of largest magnitude
// with its sign (the first on ties): Q3_K's and Q6_K's symmetric scales.
template <class Search>
static float signed_sub_scales(const float* x, int8_t* L, float* scales, Search search) {
  float max_scale = 0, amax = 0;
  for (int j = 0; j < QK_K / 16; ++j) {
    scales[j] = search(x + 16 * j, L + 16 * j);
    const float scale = std::fabs(scales[j]);
    if (scale > amax) { amax = scale; max_scale = scales[j]; }
  }
  return max_scale;
}

// Q2_K: 16 sub-blocks of 16 with 2-bit levels, a 4-bit scale and 4-bit min each (mean-absolute-error search).
void quantize_q2_k(const float* x, void* out, int64_t k) {
  auto* y = static_cast<cpu::BlockQ2_K*>(out);
  uint8_t L[QK_K], Laux[16];
  float weights[16], mins[QK_K / 16], scales[QK_K / 16];
  const float q4scale = 15.f;
  for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = uint8_t(nearest_int(iscale * scales[j]));
      y[i].d = ggml_fp16(max_scale / q4scale);
    } else {
      for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = 0;
      y[i].d = ggml_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = uint8_t(y[i].scales[j] | (nearest_int(iscale * mins[j]) << 4));
      y[i].dmin = ggml_fp16(max_min / q4scale);
    } else {
      y[i].dmin = ggml_fp16(0.f);
    }
    for (int j = 0; j < QK_K / 16; ++j) {
      const float d = f16_to_f32(y[i].d) * (y[i].scales[j] & 0xF);
      if (!d) continue;
      const float dm = f16_to_f32(y[i].dmin) * (y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int((x[16 * j + ii] + dm) / d);
        L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
      }
    }
    pack_2bit(L, y[i].qs);
  }
}

// Q3_K: 16 sub-blocks of 16 with 3-bit signed levels and 6-bit signed scales; the high bit of each level goes
// to hmask (bit m of hmask[l] for element 32m + l).
void quantize_q3_k(const float* x, void* out, int64_t k) {
  auto* y = static_cast<cpu::BlockQ3_K*>(out);
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
    const float max_scale = signed_sub_scales(x, L, scales, [](const float* v, int8_t* l) { return make_q3_quants(16, 4, v, l, true); });
    std::memset(y[i].scales, 0, 12);
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < QK_K / 16; ++j) {
        int8_t l = int8_t(nearest_int(iscale * scales[j]));
        l = int8_t(std::max<int>(-32, std::min<int>(31, l)) + 32);
        if (j < 8) y[i].scales[j] = uint8_t(l & 0xF);
        else y[i].scales[j - 8] = uint8_t(y[i].scales[j - 8] | ((l & 0xF) << 4));
        l = int8_t(l >> 4);
        y[i].scales[j % 4 + 8] = uint8_t(y[i].scales[j % 4 + 8] | (l << (2 * (j / 4))));
      }
      y[i].d = ggml_fp16(1 / iscale);
    } else {
      y[i].d = ggml_fp16(0.f);
    }
    for (int j = 0; j < QK_K / 16; ++j) {
      int8_t sc = int8_t(j < 8 ? y[i].scales[j] & 0xF : y[i].scales[j - 8] >> 4);
      sc = int8_t((sc | (((y[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
      const float d = f16_to_f32(y[i].d) * sc;
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = int8_t(std::max(-4, std::min(3, l)) + 4);
      }
    }
    std::memset(y[i].hmask, 0, QK_K / 8);
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < QK_K; ++j) {
      if (L[j] > 3) {
        y[i].hmask[m] = uint8_t(y[i].hmask[m] | hm);
        L[j] = int8_t(L[j] - 4);
      }
      if (++m == QK_K / 8) { m = 0; hm = uint8_t(hm << 1); }
    }
    pack_2bit(reinterpret_cast<const uint8_t*>(L), y[i].qs);
  }
}

// Q4_K and Q5_K share everything but the level count (nmax 15 / 31) and the search's range: 8 sub-blocks
// of 32 with a 6-bit scale and min each, weighted by av|x| + |x|. Fills levels L[256] and the block header
// (d, dmin, scales[12]) of either type.
static void kquant_scales_mins(const float* x, int nmax, float rmin, int nstep, uint8_t* L, uint16_t& d_out,
                               uint16_t& dmin_out, uint8_t* packed) {
  uint8_t Laux[32];
  float weights[32], mins[QK_K / 32], scales[QK_K / 32];
  float max_scale = 0, max_min = 0;
  std::memset(packed, 0, cpu::K_SCALE_SIZE);
  for (int j = 0; j < QK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t ls = uint8_t(nearest_int(inv_scale * scales[j]));
    uint8_t lm = uint8_t(nearest_int(inv_min * mins[j]));
    ls = std::min<uint8_t>(63, ls);
    lm = std::min<uint8_t>(63, lm);
    if (j < 4) {
      packed[j] = ls;
      packed[j + 4] = lm;
    } else {
      packed[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
      packed[j - 4] = uint8_t(packed[j - 4] | ((ls >> 4) << 6));
      packed[j - 0] = uint8_t(packed[j - 0] | ((lm >> 4) << 6));
    }
  }
  d_out = ggml_fp16(max_scale / 63.f);
  dmin_out = ggml_fp16(max_min / 63.f);
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t sc, m;
    cpu::scale_min_k4(j, packed, sc, m);
    const float d = f16_to_f32(d_out) * sc;
    if (!d) continue;
    const float dm = f16_to_f32(dmin_out) * m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(nmax, l)));
    }
  }
}

// Q4_K: 4-bit levels; sub-blocks 2i and 2i+1 are the low and high nibbles of qs[32i .. 32i+31].
void quantize_q4_k(const float* x, void* out, int64_t k) {
  auto* y = static_cast<cpu::BlockQ4_K*>(out);
  uint8_t L[QK_K];
  for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
    kquant_scales_mins(x, 15, -1.f, 20, L, y[i].d, y[i].dmin, y[i].scales);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < QK_K; j += 64, q += 32)
      for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
  }
}

// Q5_K: 5-bit levels; low nibbles as Q4_K, bit 4 of sub-block s's element l in bit s of qh[l].
void quantize_q5_k(const float* x, void* out, int64_t k) {
  auto* y = static_cast<cpu::BlockQ5_K*>(out);
  uint8_t L[QK_K];
  for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
    kquant_scales_mins(x, 31, -0.5f, 15, L, y[i].d, y[i].dmin, y[i].scales);
    uint8_t* qh = y[i].qh;
    uint8_t* ql = y[i].qs;
    std::memset(qh, 0, QK_K / 8);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < QK_K; n += 64, ql += 32) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n + j];
        if (l1 > 15) { l1 -= 16; qh[j] = uint8_t(qh[j] | m1); }
        int l2 = L[n + j + 32];
        if (l2 > 15) { l2 -= 16; qh[j] = uint8_t(qh[j] | m2); }
        ql[j] = uint8_t(l1 | (l2 << 4));
      }
      m1 = uint8_t(m1 << 2);
      m2 = uint8_t(m2 << 2);
    }
  }
}

// Q6_K: 16 sub-blocks of 16 with 6-bit signed levels and 8-bit signed scales (x^2-weighted search).
void quantize_q6_k(const float* x, void* out, int64_t k) {
  auto* y = static_cast<cpu::BlockQ6_K*>(out);
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t i = 0; i < k / QK_K; ++i, x += QK_K) {
    const float max_scale = signed_sub_scales(x, L, scales, [](const float* v, int8_t* l) { return make_qx_quants(16, 32, v, l, 1); });
    if (std::fabs(max_scale) < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(cpu::BlockQ6_K));
      y[i].d = ggml_fp16(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = ggml_fp16(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ++ib) y[i].scales[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < QK_K / 16; ++j) {
      const float d = f16_to_f32(y[i].d) * y[i].scales[j];
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = int8_t(std::max(-32, std::min(31, l)) + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF;
        const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
        ql[l + 0] = uint8_t(q1 | (q3 << 4));
        ql[l + 32] = uint8_t(q2 | (q4 << 4));
        qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                        ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace smoe::quant
