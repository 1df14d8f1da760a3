// Portable (scalar) dot products of one quantized weight row with one prepared activation row, per type.
// Each block's products are summed in integers (exact), then scaled in fp32 as ggml does:
//   32-element types:  sum += d_w * d_x * isum   (+ m_w * s_x for the types with a min, Q4_1 / Q5_1)
//   K types, per super-block, with u the unsigned quants and x the Q8_K quants:
//     A = sum_s sc_s * sum_{i in s} u_i x_i,  B = sum_s c_s * sum_{i in s} x_i (from bsums)
//     with a min (Q2_K, Q4_K, Q5_K):   sum += d_x * d_w * A - d_x * dmin_w * B,  c_s = m_s
//     with an offset (Q3_K: 4, Q6_K: 32): sum += d_x * d_w * (A - B),        c_s = offset * sc_s
// Memory layout: the blocks of quant_blocks.h, one row of nb blocks each.
#include <cstring>
#include <type_traits>

#include "quant_dot_driver.h"
#include "quant_matmul.h"

namespace smoe::cpu {
namespace {

inline float h2f(uint16_t h) { return f16_to_f32(h); }

int dot_i8(const int8_t* a, const int8_t* b, int n) {
  int s = 0;
  for (int i = 0; i < n; ++i) s += int(a[i]) * int(b[i]);
  return s;
}
int dot_u8(const uint8_t* a, const int8_t* b, int n) {
  int s = 0;
  for (int i = 0; i < n; ++i) s += int(a[i]) * int(b[i]);
  return s;
}
// The 32 5-bit (or 4-bit with hb = false) quants of a Q4/Q5 block, unsigned, in element order.
void unpack32(const uint8_t* qs, const uint8_t* qh4, uint8_t* u) {
  uint32_t qh = 0;
  if (qh4) std::memcpy(&qh, qh4, 4);
  for (int j = 0; j < 16; ++j) {
    u[j] = uint8_t((qs[j] & 0xF) | (((qh >> j) & 1) << 4));
    u[j + 16] = uint8_t((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
  }
}

// The 32-element types: u unsigned (4 or 5 bits, HB: with the fifth bit from qh); without a min the value is
// u - OFF (Q4_0: 8, Q5_0: 16), with one (Q4_1, Q5_1) d * u + m.
template <bool HB, int OFF, class B, class A>
float dot_32(const B* w, const A* x, int64_t nb) {
  float s = 0.f;
  uint8_t u[QK];
  for (int64_t i = 0; i < nb; ++i) {
    if constexpr (HB) unpack32(w[i].qs, w[i].qh, u);
    else unpack32(w[i].qs, nullptr, u);
    int isum = 0;
    for (int j = 0; j < QK; ++j) isum += (int(u[j]) - OFF) * x[i].qs[j];
    s += float(isum) * (h2f(w[i].d) * x[i].d);
    if constexpr (std::is_same_v<A, ActQ8_1>) s += h2f(w[i].m) * x[i].s;
  }
  return s;
}

// Q4_K / Q5_K: unpack(block, g, l, lo, hi) gives element l of sub-blocks 2g and 2g + 1 (unsigned); per super-block
// A = sum_s sc_s * (u . x)_s and B = sum_s m_s * bsum_s.
template <class B, class U>
float dot_k32(const B* w, const BlockQ8_K* x, int64_t nb, U unpack) {
  float s = 0.f;
  uint8_t u[QK_K];
  for (int64_t i = 0; i < nb; ++i) {
    for (int g = 0; g < 4; ++g)
      for (int l = 0; l < 32; ++l) unpack(w[i], g, l, u[64 * g + l], u[64 * g + 32 + l]);
    int A = 0, Bs = 0;
    for (int sb = 0; sb < 8; ++sb) {
      uint8_t sc, m;
      scale_min_k4(sb, w[i].scales, sc, m);
      A += sc * dot_u8(u + 32 * sb, x[i].qs + 32 * sb, 32);
      Bs += m * (x[i].bsums[2 * sb] + x[i].bsums[2 * sb + 1]);
    }
    s += x[i].d * h2f(w[i].d) * float(A) - x[i].d * h2f(w[i].dmin) * float(Bs);
  }
  return s;
}

struct Generic {
  static constexpr bool kInterleaved = false;  // the CPU backend interleaves rows only for the x86 kernels
  // The driver's interface (quant_dot_driver.h): C tokens, one at a time.
  template <int C, class WB, class AB>
  static void dot(const WB* w, const AB* const* x, int64_t nb, float* out) {
    for (int c = 0; c < C; ++c) out[c] = one(w, x[c], nb);
  }
  static float one(const BlockQ8_0* w, const ActQ8_0* x, int64_t nb) {
    float s = 0.f;
    for (int64_t i = 0; i < nb; ++i) s += float(dot_i8(w[i].qs, x[i].qs, QK)) * (h2f(w[i].d) * x[i].d);
    return s;
  }
  static float one(const BlockQ4_0* w, const ActQ8_0* x, int64_t nb) { return dot_32<false, 8>(w, x, nb); }
  static float one(const BlockQ5_0* w, const ActQ8_0* x, int64_t nb) { return dot_32<true, 16>(w, x, nb); }
  static float one(const BlockQ4_1* w, const ActQ8_1* x, int64_t nb) { return dot_32<false, 0>(w, x, nb); }
  static float one(const BlockQ5_1* w, const ActQ8_1* x, int64_t nb) { return dot_32<true, 0>(w, x, nb); }

  static float one(const BlockQ2_K* w, const BlockQ8_K* x, int64_t nb) {
    float s = 0.f;
    uint8_t u[QK_K];
    for (int64_t i = 0; i < nb; ++i) {
      for (int h = 0; h < 2; ++h)
        for (int j = 0; j < 4; ++j)
          for (int l = 0; l < 32; ++l) u[128 * h + 32 * j + l] = (w[i].qs[32 * h + l] >> (2 * j)) & 3;
      int A = 0, B = 0;
      for (int sb = 0; sb < 16; ++sb) {
        A += (w[i].scales[sb] & 0xF) * dot_u8(u + 16 * sb, x[i].qs + 16 * sb, 16);
        B += (w[i].scales[sb] >> 4) * x[i].bsums[sb];
      }
      s += x[i].d * h2f(w[i].d) * float(A) - x[i].d * h2f(w[i].dmin) * float(B);
    }
    return s;
  }
  static float one(const BlockQ3_K* w, const BlockQ8_K* x, int64_t nb) {
    float s = 0.f;
    uint8_t u[QK_K];
    int8_t sc[16];
    for (int64_t i = 0; i < nb; ++i) {
      for (int h = 0; h < 2; ++h)
        for (int j = 0; j < 4; ++j)
          for (int l = 0; l < 32; ++l)
            u[128 * h + 32 * j + l] = uint8_t(((w[i].qs[32 * h + l] >> (2 * j)) & 3) |
                                              (((w[i].hmask[l] >> (4 * h + j)) & 1) << 2));
      unpack_q3k_scales(w[i].scales, sc);
      int A = 0, B = 0;
      for (int sb = 0; sb < 16; ++sb) {
        const int c = sc[sb] - 32;
        A += c * dot_u8(u + 16 * sb, x[i].qs + 16 * sb, 16);
        B += 4 * c * x[i].bsums[sb];
      }
      s += x[i].d * h2f(w[i].d) * float(A - B);
    }
    return s;
  }
  static float one(const BlockQ4_K* w, const BlockQ8_K* x, int64_t nb) {
    return dot_k32(w, x, nb, [](const BlockQ4_K& b, int g, int l, uint8_t& lo, uint8_t& hi) {
      lo = b.qs[32 * g + l] & 0xF;
      hi = b.qs[32 * g + l] >> 4;
    });
  }
  static float one(const BlockQ5_K* w, const BlockQ8_K* x, int64_t nb) {
    return dot_k32(w, x, nb, [](const BlockQ5_K& b, int g, int l, uint8_t& lo, uint8_t& hi) {
      lo = uint8_t((b.qs[32 * g + l] & 0xF) | (((b.qh[l] >> (2 * g)) & 1) << 4));
      hi = uint8_t((b.qs[32 * g + l] >> 4) | (((b.qh[l] >> (2 * g + 1)) & 1) << 4));
    });
  }
  static float one(const BlockQ6_K* w, const BlockQ8_K* x, int64_t nb) {
    float s = 0.f;
    uint8_t u[QK_K];
    for (int64_t i = 0; i < nb; ++i) {
      for (int h = 0; h < 2; ++h) {
        const uint8_t* ql = w[i].ql + 64 * h;
        const uint8_t* qh = w[i].qh + 32 * h;
        for (int l = 0; l < 32; ++l) {
          u[128 * h + l] = uint8_t((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4));
          u[128 * h + 32 + l] = uint8_t((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
          u[128 * h + 64 + l] = uint8_t((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
          u[128 * h + 96 + l] = uint8_t((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
        }
      }
      int A = 0, B = 0;
      for (int sb = 0; sb < 16; ++sb) {
        const int c = w[i].scales[sb];
        A += c * dot_u8(u + 16 * sb, x[i].qs + 16 * sb, 16);
        B += 32 * c * x[i].bsums[sb];
      }
      s += x[i].d * h2f(w[i].d) * float(A - B);
    }
    return s;
  }
};

}  // namespace

QuantMatmulFn quant_matmul_generic() { return &quant_matmul_dispatch<Generic>; }

}  // namespace smoe::cpu
