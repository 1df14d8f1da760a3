// x86 dot products of quantized weight rows with prepared 8-bit activation rows, written once over an
// integer-dot primitive P and compiled per instruction set: quant_dot_avx2.cpp (vpmaddubsw + vpmaddwd) and
// quant_dot_avx512.cpp (AVX512-VNNI vpdpbusd on 256-bit vectors). The math is quant_dot_generic.cpp's:
// each 32 weights are unpacked in registers to one __m256i of bytes in element order, multiplied with the
// 32 activation bytes, summed in int32 per group of 4 bytes, scaled per sub-block in integers, and the
// block's integer sum is converted and accumulated in fp32 lanes (one horizontal sum per row and token).
// Every kernel, dot<C>(w, x, nb, out) overloaded on the block types, computes one weight row against C token
// rows at once (C = 1 .. 4): each weight group is unpacked once and used for all C tokens (the prefill
// case); out[c] = row . x[c].
// P provides (u: unsigned bytes, s: signed bytes; lanes: 8 x int32, lane k = bytes 4k .. 4k + 3):
//   dot(u, s)                    -> lanes of sum u * s
//   dot_scaled(acc, u, s, sc16)  -> acc + lanes of sum (u * s) * sc16, sc16 holding one int16 scale per byte
//                                   pair (pairs 2k, 2k + 1 land in lane k); |u * s| pair sums stay < 2^15
// and, for the interleaved rows (dot8 below: lane r of every vector belongs to weight row r):
//   prep_s8(w)                   -> w made ready for dot_s8 (signed weight bytes, once per block and tile)
//   dot_s8(acc, wp, w, xb)       -> acc + lanes of sum w * xb (xb: 4 activation bytes in every lane), less
//                                   128 * sum(xb's bytes) when kOffset128 (wp = w + 128 read as unsigned)
//   sub_acc(acc, u, xb)          -> acc + the products u * xb (u unsigned nibbles) in the primitive's own
//                                   accumulator form; at most 8 of them, combined by sub_add, go into one
//   sub_fold(acc, sc)            -> int32 lanes sc_r * (lane r's sum of those products), sc = sub_scale(lanes
//                                   of int32 scales < 64)
// Requires AVX2 (+ FMA) in both builds.
#pragma once
#include <immintrin.h>

#include <cstddef>
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

// A decode dot (one token) asks for the weight bytes this far ahead of the block it reads, one prefetch per
// cache line of each block: from memory the kernels otherwise ran at 10.5-11.9 GB/s on one thread against
// 14.7-22.2 from L1 and a plain read of 15.6-16.3 (bench/micro/quant_dot.cpp, AVX2 EPYC). 2 KB, not 4: from a
// 1 GB buffer on the AVX-512 Xeon, one thread, VNNI, Q6_K 17.0 against 11.5 GB/s (plain read 17.3-19.5),
// Q4_K 16.0 against 11.2; in-model the Mixtral-width Q4_K_M decoded 42.3 / 43.4 against 39.2 / 39.3 tok/s.
#ifndef SMOE_QUANT_PREFETCH_AHEAD
#define SMOE_QUANT_PREFETCH_AHEAD 2048
#endif
constexpr int64_t kPrefetchAhead = SMOE_QUANT_PREFETCH_AHEAD;
template <class B>
inline void prefetch_block(const B* b) {
  if constexpr (kPrefetchAhead == 0) return;
  const char* p = reinterpret_cast<const char*>(b) + kPrefetchAhead;
  for (size_t o = 0; o < sizeof(B); o += 64) __builtin_prefetch(p + o, 0, 3);
}

template <class P>
struct Dot {
  // Signed weights times signed activations, via |w| * (x with w's sign); aw = |w| computed once per group.
  static __m256i dot_ss(__m256i aw, __m256i w, __m256i x) { return P::dot(aw, _mm256_sign_epi8(x, w)); }

  // 32-element types: the block's 32 quants as bytes (unpack(block) -> __m256i), signed (Q8_0, Q4_0, Q5_0) or
  // unsigned with a min (Q4_1, Q5_1: + m_w * s_x per block).
  template <int C, class B, class A, class U>
  static void dot_32(const B* w, const A* const* x, int64_t nb, float* out, U unpack) {
    __m256 acc[C];
    float mins[C];
    for (int c = 0; c < C; ++c) { acc[c] = _mm256_setzero_ps(); mins[c] = 0.f; }
    for (int64_t i = 0; i < nb; ++i) {
      if constexpr (C == 1) prefetch_block(w + i);
      const __m256i q = unpack(w[i]);
      const float dw = h2f(w[i].d);
      if constexpr (std::is_same_v<A, ActQ8_1>) {
        const float mw = h2f(w[i].m);
        for (int c = 0; c < C; ++c) {
          const __m256i p = P::dot(q, load32(x[c][i].qs));
          acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x[c][i].d), _mm256_cvtepi32_ps(p), acc[c]);
          mins[c] += mw * x[c][i].s;
        }
      } else {
        const __m256i aw = _mm256_sign_epi8(q, q);
        for (int c = 0; c < C; ++c) {
          const __m256i p = dot_ss(aw, q, load32(x[c][i].qs));
          acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x[c][i].d), _mm256_cvtepi32_ps(p), acc[c]);
        }
      }
    }
    for (int c = 0; c < C; ++c) out[c] = hsum(acc[c]) + mins[c];
  }
  template <int C> static void dot(const BlockQ8_0* w, const ActQ8_0* const* x, int64_t nb, float* out) {
    dot_32<C>(w, x, nb, out, [](const BlockQ8_0& b) { return load32(b.qs); });
  }
  template <int C> static void dot(const BlockQ4_0* w, const ActQ8_0* const* x, int64_t nb, float* out) {
    dot_32<C>(w, x, nb, out, [](const BlockQ4_0& b) { return _mm256_sub_epi8(nibbles32(b.qs), bytes(8)); });
  }
  template <int C> static void dot(const BlockQ5_0* w, const ActQ8_0* const* x, int64_t nb, float* out) {
    // (q | bit4) - 16 == q | 0xF0 where bit 4 is clear (as a signed byte).
    dot_32<C>(w, x, nb, out, [](const BlockQ5_0& b) {
      return _mm256_or_si256(nibbles32(b.qs), _mm256_andnot_si256(bits32(b.qh), bytes(0xF0)));
    });
  }
  template <int C> static void dot(const BlockQ4_1* w, const ActQ8_1* const* x, int64_t nb, float* out) {
    dot_32<C>(w, x, nb, out, [](const BlockQ4_1& b) { return nibbles32(b.qs); });
  }
  template <int C> static void dot(const BlockQ5_1* w, const ActQ8_1* const* x, int64_t nb, float* out) {
    dot_32<C>(w, x, nb, out, [](const BlockQ5_1& b) {
      return _mm256_or_si256(nibbles32(b.qs), _mm256_and_si256(bits32(b.qh), bytes(0x10)));
    });
  }

  // K types. Per super-block: A = sum over groups of 32 of (u . x) per 16-bit lane pair times the sub-block's
  // scale (int16 lanes, see the shuffles below), kept in int32 lanes; the mins / offsets term B = sum_s c_s *
  // bsum_s is a vpmaddwd of the scales or mins with the activation's bsums (16 x int16).
  // Sub-blocks of 16 (Q2_K, Q3_K, Q6_K): scales16 holds 16 int16 scales; group k of half h uses sub-blocks
  // 8h + 2k (bytes 0..15) and 8h + 2k + 1 (bytes 16..31).
  static __m256i scales_16(__m256i scales16, int h, int k) {
    const __m128i half = h ? _mm256_extracti128_si256(scales16, 1) : _mm256_castsi256_si128(scales16);
    const __m256i both = _mm256_set_m128i(half, half);
    // Low 128 bits: int16 lane 2k of `half` everywhere; high 128 bits: lane 2k + 1.
    const __m256i shuf = _mm256_set_m128i(_mm_set1_epi16(int16_t((4 * k + 2) | (4 * k + 3) << 8)),
                                          _mm_set1_epi16(int16_t((4 * k) | (4 * k + 1) << 8)));
    return _mm256_shuffle_epi8(both, shuf);
  }
  // Sub-blocks of 32 (Q4_K, Q5_K): int16 lane s of scales8 (8 scales) everywhere.
  static __m256i scales_32(__m128i scales8, int s) {
    return _mm256_shuffle_epi8(_mm256_set_m128i(scales8, scales8), _mm256_set1_epi16(int16_t((2 * s) | (2 * s + 1) << 8)));
  }
  static __m256i bsums(const BlockQ8_K& x) { return load32(x.bsums); }
  // 16 int32 products c_s * bsum_s summed in pairs (8 lanes).
  static __m256i weighted_bsums(__m256i c16, const BlockQ8_K& x) { return _mm256_madd_epi16(c16, bsums(x)); }

  // The K-type skeleton: per super-block, prep(block) makes the row's per-block state (scales etc.), groups
  // (block, state, a[chains(C) * C], x[C] blocks) adds the scaled group products into a[slot<C>(s, c)], and
  // finish(block, state, a, xb, acc) turns them into fp32 (offsets / mins included).
  // The group products of token c go to chains(C) int32 accumulators a[(s % chains(C)) * C + c] (s = the
  // group's index), added before finish: with one token, four dependency chains of vpdpwssd / vpmaddwd
  // instead of one (a chain of 8-16 per super-block bounded a thread at ~11 GB/s of Q4_K); with more, the
  // tokens are the independent chains, and fewer accumulators leave the registers to the tile (4 tokens x 4
  // chains filled all 16 of AVX2 and spilled). Integer sums, so the result is the same for every C.
  static constexpr int chains(int C) { return C >= 4 ? 1 : C >= 2 ? 2 : 4; }
  template <int C> static constexpr int slot(int s, int c) { return (s % chains(C)) * C + c; }
  template <int C, class B, class Prep, class Groups, class Finish>
  static void dot_k(const B* w, const BlockQ8_K* const* x, int64_t nb, float* out, Prep prep, Groups groups,
                    Finish finish) {
    constexpr int A = chains(C);
    __m256 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      if constexpr (C == 1) prefetch_block(w + i);
      const auto st = prep(w[i]);
      const BlockQ8_K* xb[C];
      __m256i a[A * C];
      for (int c = 0; c < C; ++c) xb[c] = x[c] + i;
      for (int k = 0; k < A * C; ++k) a[k] = _mm256_setzero_si256();
      groups(w[i], st, a, xb);
      for (int c = 0; c < C; ++c) {
        __m256i sum = a[c];
        for (int k = 1; k < A; ++k) sum = _mm256_add_epi32(sum, a[k * C + c]);
        acc[c] = finish(w[i], st, sum, *xb[c], acc[c]);
      }
    }
    for (int c = 0; c < C; ++c) out[c] = hsum(acc[c]);
  }
  // acc + dx * (d * a - dm * mb): the d-scaled integer sums minus the dmin-scaled mins term.
  static __m256 fold(__m256 acc, float dx, float d, __m256i a, float dm, __m256i mb) {
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dx * d), _mm256_cvtepi32_ps(a), acc);
    return _mm256_fnmadd_ps(_mm256_set1_ps(dx * dm), _mm256_cvtepi32_ps(mb), acc);
  }

  template <int C> static void dot(const BlockQ2_K* w, const BlockQ8_K* const* x, int64_t nb, float* out) {
    struct St { __m256i sc16, m16; };
    dot_k<C>(w, x, nb, out,
        [](const BlockQ2_K& b) {
          const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
          return St{_mm256_cvtepu8_epi16(_mm_and_si128(packed, _mm_set1_epi8(0x0F))),
                    _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)))};
        },
        [](const BlockQ2_K& b, const St& st, __m256i* a, const BlockQ8_K* const* xb) {
          for (int h = 0; h < 2; ++h) {
            const __m256i q = load32(b.qs + 32 * h);
            for (int j = 0; j < 4; ++j) {
              const __m256i u = field(q, 2 * j, 3), sc = scales_16(st.sc16, h, j);
              for (int c = 0; c < C; ++c) a[slot<C>(j, c)] = P::dot_scaled(a[slot<C>(j, c)], u, load32(xb[c]->qs + 128 * h + 32 * j), sc);
            }
          }
        },
        [](const BlockQ2_K& b, const St& st, __m256i a, const BlockQ8_K& xb, __m256 acc) {
          return fold(acc, xb.d, h2f(b.d), a, h2f(b.dmin), weighted_bsums(st.m16, xb));
        });
  }
  template <int C> static void dot(const BlockQ3_K* w, const BlockQ8_K* const* x, int64_t nb, float* out) {
    dot_k<C>(w, x, nb, out,
        [](const BlockQ3_K& b) {
          int8_t sc[16];
          unpack_q3k_scales(b.scales, sc);
          return _mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)), _mm_set1_epi8(32)));
        },
        [](const BlockQ3_K& b, const __m256i& sc16, __m256i* a, const BlockQ8_K* const* xb) {
          const __m256i hm = load32(b.hmask);
          for (int h = 0; h < 2; ++h) {
            const __m256i q = load32(b.qs + 32 * h);
            for (int j = 0; j < 4; ++j) {
              const __m256i u = _mm256_or_si256(field(q, 2 * j, 3), _mm256_slli_epi16(field(hm, 4 * h + j, 1), 2));
              const __m256i sc = scales_16(sc16, h, j);
              for (int c = 0; c < C; ++c) a[slot<C>(j, c)] = P::dot_scaled(a[slot<C>(j, c)], u, load32(xb[c]->qs + 128 * h + 32 * j), sc);
            }
          }
        },
        [](const BlockQ3_K& b, const __m256i& sc16, __m256i a, const BlockQ8_K& xb, __m256 acc) {
          a = _mm256_sub_epi32(a, _mm256_slli_epi32(weighted_bsums(sc16, xb), 2));  // offset 4
          return _mm256_fmadd_ps(_mm256_set1_ps(xb.d * h2f(b.d)), _mm256_cvtepi32_ps(a), acc);
        });
  }
  // Q4_K / Q5_K: 4 groups of 64 (two sub-blocks of 32); unpack(block, g, lo, hi) gives their unsigned quants.
  // The 6-bit scales and mins are unpacked 8 at a time as ggml's AVX2 code does (12 bytes -> 8 + 8 bytes).
  template <int C, class B, class U>
  static void dot_k32(const B* w, const BlockQ8_K* const* x, int64_t nb, float* out, U unpack) {
    dot_k<C>(w, x, nb, out,
        [](const B& b) {
          constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
          uint32_t u[4];
          std::memcpy(u, b.scales, 12);
          u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
          const uint32_t m0 = u[1] & kmask1;
          u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
          u[2] = m0;
          u[0] &= kmask1;  // bytes of u[0..1]: the 8 scales; of u[2..3]: the 8 mins
          return _mm256_cvtepu8_epi16(_mm_set_epi32(int(u[3]), int(u[2]), int(u[1]), int(u[0])));
        },
        [&](const B& b, const __m256i& sm16, __m256i* a, const BlockQ8_K* const* xb) {
          const __m128i sc8 = _mm256_castsi256_si128(sm16);
          for (int g = 0; g < 4; ++g) {
            __m256i lo, hi;
            unpack(b, g, lo, hi);
            const __m256i s0 = scales_32(sc8, 2 * g), s1 = scales_32(sc8, 2 * g + 1);
            for (int c = 0; c < C; ++c) {
              const int l = slot<C>(2 * (g & 1), c), h = slot<C>(2 * (g & 1) + 1, c);
              a[l] = P::dot_scaled(a[l], lo, load32(xb[c]->qs + 64 * g), s0);
              a[h] = P::dot_scaled(a[h], hi, load32(xb[c]->qs + 64 * g + 32), s1);
            }
          }
        },
        [](const B& b, const __m256i& sm16, __m256i a, const BlockQ8_K& xb, __m256 acc) {
          // Mins: sub-block s covers bsums 2s and 2s + 1: pair-add the bsums, then multiply by the 8 mins.
          const __m256i bs = bsums(xb);
          const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
          const __m128i mb = _mm_madd_epi16(_mm256_extracti128_si256(sm16, 1), pairs);
          return fold(acc, xb.d, h2f(b.d), a, h2f(b.dmin), _mm256_zextsi128_si256(mb));
        });
  }
  template <int C> static void dot(const BlockQ4_K* w, const BlockQ8_K* const* x, int64_t nb, float* out) {
    dot_k32<C>(w, x, nb, out, [](const BlockQ4_K& b, int g, __m256i& lo, __m256i& hi) {
      const __m256i q = load32(b.qs + 32 * g);
      lo = field(q, 0, 0xF);
      hi = field(q, 4, 0xF);
    });
  }
  template <int C> static void dot(const BlockQ5_K* w, const BlockQ8_K* const* x, int64_t nb, float* out) {
    dot_k32<C>(w, x, nb, out, [](const BlockQ5_K& b, int g, __m256i& lo, __m256i& hi) {
      const __m256i q = load32(b.qs + 32 * g), qh = load32(b.qh);
      lo = _mm256_or_si256(field(q, 0, 0xF), _mm256_slli_epi16(field(qh, 2 * g, 1), 4));
      hi = _mm256_or_si256(field(q, 4, 0xF), _mm256_slli_epi16(field(qh, 2 * g + 1, 1), 4));
    });
  }
  template <int C> static void dot(const BlockQ6_K* w, const BlockQ8_K* const* x, int64_t nb, float* out) {
    dot_k<C>(w, x, nb, out,
        [](const BlockQ6_K& b) { return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales))); },
        [](const BlockQ6_K& b, const __m256i& sc16, __m256i* a, const BlockQ8_K* const* xb) {
          for (int h = 0; h < 2; ++h) {
            const __m256i ql0 = load32(b.ql + 64 * h), ql1 = load32(b.ql + 64 * h + 32);
            const __m256i qh = load32(b.qh + 32 * h);
            const __m256i u[4] = {
                _mm256_or_si256(field(ql0, 0, 0xF), _mm256_slli_epi16(field(qh, 0, 3), 4)),
                _mm256_or_si256(field(ql1, 0, 0xF), _mm256_slli_epi16(field(qh, 2, 3), 4)),
                _mm256_or_si256(field(ql0, 4, 0xF), _mm256_slli_epi16(field(qh, 4, 3), 4)),
                _mm256_or_si256(field(ql1, 4, 0xF), _mm256_slli_epi16(field(qh, 6, 3), 4)),
            };
            for (int k = 0; k < 4; ++k) {
              const __m256i sc = scales_16(sc16, h, k);
              for (int c = 0; c < C; ++c) a[slot<C>(k, c)] = P::dot_scaled(a[slot<C>(k, c)], u[k], load32(xb[c]->qs + 128 * h + 32 * k), sc);
            }
          }
        },
        [](const BlockQ6_K& b, const __m256i& sc16, __m256i a, const BlockQ8_K& xb, __m256 acc) {
          a = _mm256_sub_epi32(a, _mm256_slli_epi32(weighted_bsums(sc16, xb), 5));  // offset 32
          return _mm256_fmadd_ps(_mm256_set1_ps(xb.d * h2f(b.d)), _mm256_cvtepi32_ps(a), acc);
        });
  }

  static constexpr bool kInterleaved = true;
  // Interleaved rows (quant_blocks.h: BlockQ8_0x8, BlockQ4_Kx8). dot8<C>(w, x, nb, out): out[8c + r] = row r
  // of the group . x[c], for C = 1 .. 4 tokens. A 32-byte load of the weights is 4 elements of each of the 8
  // rows, multiplied with 4 activation bytes broadcast to every lane: the block scales are then vectors over
  // the rows, so each block costs one conversion and one fma per token for 8 rows (the row-at-a-time kernels
  // above pay that per row, then a horizontal sum), and no horizontal sum is left at the end. Blocks are
  // summed in exact integers, then folded into fp32 lane r in block order: the result is the same for every C
  // and for both primitives.
  static __m256i bcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  template <int C>
  static void dot8(const BlockQ8_0x8* w, const ActQ8_0* const* x, int64_t nb, float* out) {
    constexpr int A = C == 1 ? 4 : 2;  // int32 accumulators per token: independent chains of dot_s8
    __m256 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      if constexpr (C == 1) prefetch_block(w + i);
      const BlockQ8_0x8& b = w[i];
      __m256i s[C][A];
      for (int c = 0; c < C; ++c)
        for (int k = 0; k < A; ++k)
          s[c][k] = k == 0 && P::kOffset128 ? _mm256_set1_epi32(x[c][i].m128) : _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const __m256i q = load32(b.qs + 32 * j), qp = P::prep_s8(q);
        for (int c = 0; c < C; ++c) s[c][j % A] = P::dot_s8(s[c][j % A], qp, q, bcast4(x[c][i].qs + 4 * j));
      }
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.d)));
      for (int c = 0; c < C; ++c) {
        __m256i sum = s[c][0];
        for (int k = 1; k < A; ++k) sum = _mm256_add_epi32(sum, s[c][k]);
        acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(x[c][i].d)), _mm256_cvtepi32_ps(sum), acc[c]);
      }
    }
    for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + 8 * c, acc[c]);
  }
  // Q4_K: per super-block, isum_r = sum_s sc_rs * (sub-block s of row r . x) and mins_r = sum_s m_rs * (sum of
  // x over sub-block s), both exact; then acc_r += dx * d_r * isum_r - dx * dmin_r * mins_r (Q4_K's fold).
  // Unit u's low nibbles are sub-block u / 8, its high nibbles sub-block 4 + u / 8: two at a time.
  template <int C>
  static void dot8(const BlockQ4_Kx8* w, const BlockQ8_K* const* x, int64_t nb, float* out) {
    constexpr int A = C == 1 ? 2 : 1;  // accumulators per token and nibble half
    __m256 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      // Decode: the block kPrefetchAhead bytes on, one line per two units of qs (a burst of 18 prefetches
      // per block stalled on the fill buffers), its scales first.
      const char* ahead = reinterpret_cast<const char*>(w + i) + kPrefetchAhead;
      if constexpr (C == 1 && kPrefetchAhead > 0) { __builtin_prefetch(ahead, 0, 3); __builtin_prefetch(ahead + 64, 0, 3); }
      const BlockQ4_Kx8& b = w[i];
      // The 6-bit scales and mins as bytes, entry k = 8s + r: [0] sub-blocks 0..3, [1] 4..7.
      const __m256i lo0 = load32(b.sm_lo), lo1 = load32(b.sm_lo + 32), hi = load32(b.sm_hi);
      const __m256i scb[2] = {_mm256_or_si256(field(lo0, 0, 0xF), _mm256_slli_epi16(field(hi, 0, 3), 4)),
                              _mm256_or_si256(field(lo1, 0, 0xF), _mm256_slli_epi16(field(hi, 2, 3), 4))};
      const __m256i mnb[2] = {_mm256_or_si256(field(lo0, 4, 0xF), _mm256_slli_epi16(field(hi, 4, 3), 4)),
                              _mm256_or_si256(field(lo1, 4, 0xF), _mm256_slli_epi16(field(hi, 6, 3), 4))};
      __m256i sc[8], mn[4];  // sc[s]: lane r = P's scale of row r; mn[t]: int16 pair (m_r,2t, m_r,2t+1)
      for (int h = 0; h < 2; ++h)
        for (int q = 0; q < 2; ++q) {
          const __m128i sv = q ? _mm256_extracti128_si256(scb[h], 1) : _mm256_castsi256_si128(scb[h]);
          const __m128i mv = q ? _mm256_extracti128_si256(mnb[h], 1) : _mm256_castsi256_si128(mnb[h]);
          sc[4 * h + 2 * q] = P::sub_scale(_mm256_cvtepu8_epi32(sv));
          sc[4 * h + 2 * q + 1] = P::sub_scale(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(sv, sv)));
          mn[2 * h + q] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mv, _mm_unpackhi_epi64(mv, mv)));
        }
      __m256i isum[C];
      for (int c = 0; c < C; ++c) isum[c] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
        __m256i al[C][A], ah[C][A];
        for (int c = 0; c < C; ++c)
          for (int k = 0; k < A; ++k) al[c][k] = ah[c][k] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int u = 8 * p; u < 8 * p + 8; ++u) {
          if constexpr (C == 1 && kPrefetchAhead > 0)
            if (u % 2 == 0) __builtin_prefetch(ahead + offsetof(BlockQ4_Kx8, qs) + 32 * u, 0, 3);
          const __m256i q = load32(b.qs + 32 * u), ql = field(q, 0, 0xF), qh = field(q, 4, 0xF);
          for (int c = 0; c < C; ++c) {
            al[c][u % A] = P::sub_acc(al[c][u % A], ql, bcast4(x[c][i].qs + 4 * u));
            ah[c][u % A] = P::sub_acc(ah[c][u % A], qh, bcast4(x[c][i].qs + 128 + 4 * u));
          }
        }
        for (int c = 0; c < C; ++c) {
          __m256i l = al[c][0], h = ah[c][0];
          for (int k = 1; k < A; ++k) { l = P::sub_add(l, al[c][k]); h = P::sub_add(h, ah[c][k]); }
          isum[c] = _mm256_add_epi32(isum[c], _mm256_add_epi32(P::sub_fold(l, sc[p]), P::sub_fold(h, sc[4 + p])));
        }
      }
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.d)));
      const __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.dmin)));
      for (int c = 0; c < C; ++c) {
        const BlockQ8_K& xb = x[c][i];
        // Sums of x over each sub-block of 32 (pairs of bsums), two sub-blocks per int32, broadcast.
        const __m256i bs = bsums(xb);
        alignas(16) int32_t pairs[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(pairs),
                        _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
        __m256i mins = _mm256_madd_epi16(mn[0], _mm256_set1_epi32(pairs[0]));
        for (int t = 1; t < 4; ++t) mins = _mm256_add_epi32(mins, _mm256_madd_epi16(mn[t], _mm256_set1_epi32(pairs[t])));
        const __m256 dx = _mm256_set1_ps(xb.d);
        acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(isum[c]), acc[c]);
        acc[c] = _mm256_fnmadd_ps(_mm256_mul_ps(dm, dx), _mm256_cvtepi32_ps(mins), acc[c]);
      }
    }
    for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + 8 * c, acc[c]);
  }
};

}  // namespace smoe::cpu::x86
