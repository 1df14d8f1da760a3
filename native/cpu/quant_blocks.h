// ggml's quantized block layouts, byte for byte as ggml-common.h defines them (the llama.cpp source that
// node-llama-cpp ships), plus the 8-bit activation blocks its CPU dot products consume. fp16 fields are
// raw IEEE half bits. A quantized weight row is an array of these blocks; blocks hold 32 elements
// (QK = 32) or, for the K types, a super-block of 256 (QK_K). Every weight block has an even size and
// 2-byte alignment, so a row of blocks needs an even file offset (spec.cpp checks it).
#pragma once
#include <cstdint>

#include "../core/dtype.h"

namespace smoe::cpu {

constexpr int QK = 32;     // elements per Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 block
constexpr int QK_K = 256;  // elements per K-quant super-block
constexpr int K_SCALE_SIZE = 12;

// x = d * q, q in [-128, 127].
struct BlockQ8_0 { uint16_t d; int8_t qs[QK]; };
// x = d * (q - 8); qs[j] holds element j (low nibble) and element j + 16 (high nibble).
struct BlockQ4_0 { uint16_t d; uint8_t qs[QK / 2]; };
// x = d * q + m, q in [0, 15]; nibbles as Q4_0.
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[QK / 2]; };
// x = d * (q - 16); low 4 bits as Q4_0, bit 4 of element j is bit j of the little-endian uint32 qh.
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; };
// x = d * q + m, q in [0, 31]; bits as Q5_0.
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; };

// 16 sub-blocks of 16: x = d * (scales[s] & 15) * q - dmin * (scales[s] >> 4), q in [0, 3]. Element layout:
// for half h (128 elements) and shift j (2 bits each), elements h*128 + 32j + l take (qs[32h + l] >> 2j) & 3.
struct BlockQ2_K { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; uint16_t d, dmin; };
// 16 sub-blocks of 16: x = d * (s - 32) * (q - (hmask bit ? 0 : 4)), 6-bit scales s packed in 12 bytes;
// low 2 bits of q as Q2_K, the high bit of element 32k + l (k = 0..7) is bit k of hmask[l].
struct BlockQ3_K { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; uint16_t d; };
// 8 sub-blocks of 32: x = d * sc * q - dmin * m, 6-bit (sc, m) packed in 12 bytes (get_scale_min_k4);
// sub-blocks 2i and 2i + 1 are the low and high nibbles of qs[32i .. 32i + 31].
struct BlockQ4_K { uint16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; };
// As Q4_K with a fifth bit: bit 4 of element 32s + l is bit s of qh[l].
struct BlockQ5_K { uint16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; };
// 16 sub-blocks of 16: x = d * scales[s] * (q - 32), q = 4 low bits from ql | 2 high bits from qh << 4.
struct BlockQ6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; };

// Activation blocks (made from the F32 activations once per matmul). ggml's Q8_0 / Q8_1 activation blocks
// hold fp16 scales; these hold the same fp16-rounded values as floats, so the dot products multiply them
// without a conversion per block and token (the products, and so the results, are ggml's):
// Q8_0: d = fp16(amax / 127), q in [-127, 127]; m128 = -128 * sum(qs) (the VNNI kernels of the interleaved
// Q8_0 rows read the weights as unsigned w + 128 and take this back out).
struct ActQ8_0 { float d; int32_t m128; int8_t qs[QK]; };
// Q8_1: as Q8_0 plus s = fp16(d * sum(qs)) (for the weight types with a min: Q4_1, Q5_1).
struct ActQ8_1 { float d, s; int8_t qs[QK]; };
// Q8_K: a float scale and the sums of each 16 quants (the K types' mins and offsets use them).
struct BlockQ8_K { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; };

static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 &&
              sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24, "32-element block sizes differ from ggml");
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
              sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210, "K-quant block sizes differ from ggml");
// Eight weight rows interleaved block by block (cpu/repack.h makes them at load; the x86 kernels read them,
// one vector lane per row). Block i of rows 8g .. 8g + 7 of a Q8_0 matrix: the 8 scales, then chunk j (4
// elements) of every row: qs[32j + 4r + b] = row r's q[4j + b].
struct BlockQ8_0x8 { uint16_t d[8]; int8_t qs[8 * QK]; };
// Super-block i of eight Q4_K rows. Scales and mins stay 6-bit, regrouped so vectors unpack them: entry k =
// 8s + r (sub-block s, row r): sm_lo[k] = (scale & 15) | (min & 15) << 4; the top 2 bits of entry k (j = k %
// 32, h = k / 32) sit in sm_hi[j]: scale at bits 2h, min at bits 4 + 2h. Unit u (0 .. 31) of qs holds
// 4 elements of every row: byte 32u + 4r + b = row r's q[4u + b] (low nibble) | q[128 + 4u + b] << 4.
struct BlockQ4_Kx8 { uint16_t d[8], dmin[8]; uint8_t sm_lo[64]; uint8_t sm_hi[32]; uint8_t qs[8 * QK_K / 2]; };
static_assert(sizeof(BlockQ8_0x8) == 8 * sizeof(BlockQ8_0) && sizeof(BlockQ4_Kx8) == 8 * sizeof(BlockQ4_K),
              "an interleaved block must hold its 8 rows' bytes exactly (the repack is in place)");
static_assert(sizeof(BlockQ8_K) == 292, "activation block size differs from ggml");

// The 6-bit scale and min of sub-block j of a Q4_K / Q5_K super-block (ggml's get_scale_min_k4).
inline void scale_min_k4(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
  if (j < 4) {
    d = q[j] & 63; m = q[j + 4] & 63;
  } else {
    d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = uint8_t((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// The 16 signed 6-bit scales (s - 32 is applied by the caller) of a Q3_K super-block, unpacked as ggml does.
inline void unpack_q3k_scales(const uint8_t* packed, int8_t out[16]) {
  uint32_t aux[4];
  __builtin_memcpy(aux, packed, 12);
  const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f, tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  __builtin_memcpy(out, aux, 16);
}

}  // namespace smoe::cpu
