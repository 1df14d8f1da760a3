// x86 dot products of quantized weight rows with prepared 8-bit activation rows, written once over an
// integer-dot primitive P and compiled per instruction set: quant_dot_avx2.cpp (vpmaddubsw + vpmaddwd) and
// quant_dot_avx512.cpp (AVX512-VNNI vpdpbusd on 256-bit vectors). The math is quant_dot_generic.cpp's:
// each 32 weights are unpacked in registers to one __m256i of bytes in element order, multiplied with the
// 32 activation bytes, summed in int32 per group of 4 bytes, scaled per sub-block in integers, and the
// block's integer sum is converted and accumulated in fp32 lanes (one horizontal sum per row).
// P provides (u: unsigned bytes, s: signed bytes; lanes: 8 x int32, lane k = bytes 4k .. 4k + 3):
//   dot(u, s)                    -> lanes of sum u * s
//   scales(lo, hi)               -> a scale vector for dot_scaled: lo for bytes 0..15, hi for bytes 16..31
//   dot_scaled(acc, u, s, sc)    -> acc + lanes of sum u * s, each times its scale
// Requires AVX2 (+ FMA) in both builds.
#pragma once
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "quant_blocks.h"

namespace smoe::cpu::x86 {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}
inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m256i bytes(int v) { return _mm256_set1_epi8(char(v)); }
// 16 bytes of nibbles -> 32 bytes: element j (low nibble of byte j) then element j + 16 (high nibble).
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
  return _mm256_and_si256(both, bytes(0x0F));
}
// The 32 bits of qh (little-endian) -> 32 bytes, 0xFF where the bit is set.
inline __m256i bits32(const uint8_t* qh) {
  uint32_t x;
  std::memcpy(&x, qh, 4);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(int(x)), shuf);
  b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}
// Bytes (v >> shift) & mask, per byte.
inline __m256i field(__m256i v, int shift, int mask) {
  return _mm256_and_si256(_mm256_srli_epi16(v, shift), bytes(mask));
}

template <class P>
struct Dot {
  // Signed weights times signed activations, via |w| * (x with w's sign).
  static __m256i dot_ss(__m256i w, __m256i x) { return P::dot(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)); }

  // 32-element types: the block's 32 quants as bytes (unpack(block) -> __m256i), signed (Q8_0, Q4_0, Q5_0) or
  // unsigned with a min (Q4_1, Q5_1: + m_w * s_x per block).
  template <class B, class A, class U>
  static float dot_32(const B* w, const A* x, int64_t nb, U unpack) {
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.f;
    for (int64_t i = 0; i < nb; ++i) {
      const __m256i q = unpack(w[i]), xq = load32(x[i].qs);
      __m256i p;
      if constexpr (std::is_same_v<A, BlockQ8_1>) {
        p = P::dot(q, xq);
        mins += h2f(w[i].m) * h2f(x[i].s);
      } else {
        p = dot_ss(q, xq);
      }
      acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w[i].d) * h2f(x[i].d)), _mm256_cvtepi32_ps(p), acc);
    }
    return hsum(acc) + mins;
  }
  static float dot_q8_0(const BlockQ8_0* w, const BlockQ8_0* x, int64_t nb) {
    return dot_32(w, x, nb, [](const BlockQ8_0& b) { return load32(b.qs); });
  }
  static float dot_q4_0(const BlockQ4_0* w, const BlockQ8_0* x, int64_t nb) {
    return dot_32(w, x, nb, [](const BlockQ4_0& b) { return _mm256_sub_epi8(nibbles32(b.qs), bytes(8)); });
  }
  static float dot_q5_0(const BlockQ5_0* w, const BlockQ8_0* x, int64_t nb) {
    // (q | bit4) - 16 == q | 0xF0 where bit 4 is clear (as a signed byte).
    return dot_32(w, x, nb, [](const BlockQ5_0& b) {
      return _mm256_or_si256(nibbles32(b.qs), _mm256_andnot_si256(bits32(b.qh), bytes(0xF0)));
    });
  }
  static float dot_q4_1(const BlockQ4_1* w, const BlockQ8_1* x, int64_t nb) {
    return dot_32(w, x, nb, [](const BlockQ4_1& b) { return nibbles32(b.qs); });
  }
  static float dot_q5_1(const BlockQ5_1* w, const BlockQ8_1* x, int64_t nb) {
    return dot_32(w, x, nb, [](const BlockQ5_1& b) {
      return _mm256_or_si256(nibbles32(b.qs), _mm256_and_si256(bits32(b.qh), bytes(0x10)));
    });
  }

  // K types: A (integer, scaled per sub-block) in vector lanes, B (mins / offsets) as a scalar integer.
  static float dot_q2_k(const BlockQ2_K* w, const BlockQ8_K* x, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.f;
    for (int64_t i = 0; i < nb; ++i) {
      const uint8_t* sc = w[i].scales;
      __m256i a = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i q = load32(w[i].qs + 32 * h);
        for (int j = 0; j < 4; ++j) {
          const int s = 8 * h + 2 * j;
          a = P::dot_scaled(a, field(q, 2 * j, 3), load32(x[i].qs + 128 * h + 32 * j),
                            P::scales(sc[s] & 0xF, sc[s + 1] & 0xF));
        }
      }
      int B = 0;
      for (int s = 0; s < 16; ++s) B += (sc[s] >> 4) * x[i].bsums[s];
      acc = _mm256_fmadd_ps(_mm256_set1_ps(x[i].d * h2f(w[i].d)), _mm256_cvtepi32_ps(a), acc);
      mins += x[i].d * h2f(w[i].dmin) * float(B);
    }
    return hsum(acc) - mins;
  }
  static float dot_q3_k(const BlockQ3_K* w, const BlockQ8_K* x, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    int8_t sc[16];
    for (int64_t i = 0; i < nb; ++i) {
      unpack_q3k_scales(w[i].scales, sc);
      const __m256i hm = load32(w[i].hmask);
      __m256i a = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i q = load32(w[i].qs + 32 * h);
        for (int j = 0; j < 4; ++j) {
          const int s = 8 * h + 2 * j;
          const __m256i u = _mm256_or_si256(field(q, 2 * j, 3), _mm256_slli_epi16(field(hm, 4 * h + j, 1), 2));
          a = P::dot_scaled(a, u, load32(x[i].qs + 128 * h + 32 * j), P::scales(sc[s] - 32, sc[s + 1] - 32));
        }
      }
      int B = 0;
      for (int s = 0; s < 16; ++s) B += 4 * (sc[s] - 32) * x[i].bsums[s];
      a = _mm256_sub_epi32(a, _mm256_setr_epi32(B, 0, 0, 0, 0, 0, 0, 0));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(x[i].d * h2f(w[i].d)), _mm256_cvtepi32_ps(a), acc);
    }
    return hsum(acc);
  }
  // Q4_K / Q5_K: 4 groups of 64 (two sub-blocks of 32); unpack(block, g) -> {low sub-block, high sub-block}.
  template <class B, class U>
  static float dot_k32(const B* w, const BlockQ8_K* x, int64_t nb, U unpack) {
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.f;
    for (int64_t i = 0; i < nb; ++i) {
      __m256i a = _mm256_setzero_si256();
      int Bs = 0;
      for (int g = 0; g < 4; ++g) {
        uint8_t s0, m0, s1, m1;
        scale_min_k4(2 * g, w[i].scales, s0, m0);
        scale_min_k4(2 * g + 1, w[i].scales, s1, m1);
        __m256i lo, hi;
        unpack(w[i], g, lo, hi);
        a = P::dot_scaled(a, lo, load32(x[i].qs + 64 * g), P::scales(s0, s0));
        a = P::dot_scaled(a, hi, load32(x[i].qs + 64 * g + 32), P::scales(s1, s1));
        Bs += m0 * (x[i].bsums[4 * g] + x[i].bsums[4 * g + 1]) + m1 * (x[i].bsums[4 * g + 2] + x[i].bsums[4 * g + 3]);
      }
      acc = _mm256_fmadd_ps(_mm256_set1_ps(x[i].d * h2f(w[i].d)), _mm256_cvtepi32_ps(a), acc);
      mins += x[i].d * h2f(w[i].dmin) * float(Bs);
    }
    return hsum(acc) - mins;
  }
  static float dot_q4_k(const BlockQ4_K* w, const BlockQ8_K* x, int64_t nb) {
    return dot_k32(w, x, nb, [](const BlockQ4_K& b, int g, __m256i& lo, __m256i& hi) {
      const __m256i q = load32(b.qs + 32 * g);
      lo = field(q, 0, 0xF);
      hi = field(q, 4, 0xF);
    });
  }
  static float dot_q5_k(const BlockQ5_K* w, const BlockQ8_K* x, int64_t nb) {
    return dot_k32(w, x, nb, [](const BlockQ5_K& b, int g, __m256i& lo, __m256i& hi) {
      const __m256i q = load32(b.qs + 32 * g), qh = load32(b.qh);
      lo = _mm256_or_si256(field(q, 0, 0xF), _mm256_slli_epi16(field(qh, 2 * g, 1), 4));
      hi = _mm256_or_si256(field(q, 4, 0xF), _mm256_slli_epi16(field(qh, 2 * g + 1, 1), 4));
    });
  }
  static float dot_q6_k(const BlockQ6_K* w, const BlockQ8_K* x, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const int8_t* sc = w[i].scales;
      __m256i a = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = load32(w[i].ql + 64 * h), ql1 = load32(w[i].ql + 64 * h + 32);
        const __m256i qh = load32(w[i].qh + 32 * h);
        const __m256i u[4] = {
            _mm256_or_si256(field(ql0, 0, 0xF), _mm256_slli_epi16(field(qh, 0, 3), 4)),
            _mm256_or_si256(field(ql1, 0, 0xF), _mm256_slli_epi16(field(qh, 2, 3), 4)),
            _mm256_or_si256(field(ql0, 4, 0xF), _mm256_slli_epi16(field(qh, 4, 3), 4)),
            _mm256_or_si256(field(ql1, 4, 0xF), _mm256_slli_epi16(field(qh, 6, 3), 4)),
        };
        for (int k = 0; k < 4; ++k) {
          const int s = 8 * h + 2 * k;
          a = P::dot_scaled(a, u[k], load32(x[i].qs + 128 * h + 32 * k), P::scales(sc[s], sc[s + 1]));
        }
      }
      int B = 0;
      for (int s = 0; s < 16; ++s) B += 32 * sc[s] * x[i].bsums[s];
      a = _mm256_sub_epi32(a, _mm256_setr_epi32(B, 0, 0, 0, 0, 0, 0, 0));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(x[i].d * h2f(w[i].d)), _mm256_cvtepi32_ps(a), acc);
    }
    return hsum(acc);
  }
};

}  // namespace smoe::cpu::x86
