// The 32-element quantizers (ggml-quants.c's quantize_row_{q8_0,q4_0,q4_1,q5_0,q5_1}_ref), one block of 32
// values at a time. Symmetric types (Q8_0, Q4_0, Q5_0) take d from the value of largest magnitude; the types
// with a min (Q4_1, Q5_1) span [min, max]. d (and m) are stored as ggml's fp16 rounding of the float.
// Block layouts: cpu/quant_blocks.h.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "../cpu/quant_blocks.h"
#include "half_round.h"
#include "quantize.h"
#include "scale_search.h"

namespace smoe::quant {

using cpu::QK;

// Q8_0: d = max|x| / 127, q = round(x / d) (roundf: ties away from zero).
void quantize_q8_0(const float* x, void* out, int64_t k) {
  auto* y = static_cast<cpu::BlockQ8_0*>(out);
  for (int64_t i = 0; i < k / QK; ++i, x += QK) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = ggml_fp16(d);
    for (int j = 0; j < QK; ++j) y[i].qs[j] = int8_t(std::round(x[j] * id));
  }
}

// The header of a symmetric block (Q4_0, Q5_0): d = max / -2^(bits-1) from the value of largest magnitude,
// stored as fp16; returns 1 / d (0 for an all-zero block).
template <class Block>
static float symmetric_header(const float* x, int bits, Block& blk) {
  const float d = signed_absmax(QK, x) / -(1 << (bits - 1));
  blk.d = ggml_fp16(d);
  return d ? 1.0f / d : 0.0f;
}

// Q4_0: d = max / -8, q = min(15, trunc(x / d + 8.5)); element j in the low nibble of qs[j], j + 16 in the high.
void quantize_q4_0(const float* x, void* out, int64_t k) {
  auto* y = static_cast<cpu::BlockQ4_0*>(out);
  for (int64_t i = 0; i < k / QK; ++i, x += QK) {
    const float id = symmetric_header(x, 4, y[i]);
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t q0 = uint8_t(std::min(15, int(int8_t(int(x[j] * id + 8.5f)))));
      const uint8_t q1 = uint8_t(std::min(15, int(int8_t(int(x[QK / 2 + j] * id + 8.5f)))));
      y[i].qs[j] = uint8_t(q0 | (q1 << 4));
    }
  }
}

// The header of a block with a min (Q4_1, Q5_1): d = (max - min) / (2^bits - 1) and m = min, both stored as
// fp16; returns 1 / d (0 for a constant block) and the min in `min`.
template <class Block>
static float min_scale_header(const float* x, int bits, Block& blk, float& min) {
  min = FLT_MAX;
  float max = -FLT_MAX;
  for (int j = 0; j < QK; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const float d = (max - min) / ((1 << bits) - 1);
  blk.d = ggml_fp16(d);
  blk.m = ggml_fp16(min);
  return d ? 1.0f / d : 0.0f;
}

// Q4_1: d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5)); nibbles as Q4_0.
void quantize_q4_1(const float* x, void* out, int64_t k) {
  auto* y = static_cast<cpu::BlockQ4_1*>(out);
  for (int64_t i = 0; i < k / QK; ++i, x += QK) {
    float min;
    const float id = min_scale_header(x, 4, y[i], min);
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t q0 = uint8_t(std::min(15, int(int8_t(int((x[j] - min) * id + 0.5f)))));
      const uint8_t q1 = uint8_t(std::min(15, int(int8_t(int((x[QK / 2 + j] - min) * id + 0.5f)))));
      y[i].qs[j] = uint8_t(q0 | (q1 << 4));
    }
  }
}

// Q5_0: d = max / -16, q = min(31, trunc(x / d + 16.5)); low nibbles as Q4_0, bit 4 of element j in bit j of qh.
void quantize_q5_0(const float* x, void* out, int64_t k) {
  auto* y = static_cast<cpu::BlockQ5_0*>(out);
  for (int64_t i = 0; i < k / QK; ++i, x += QK) {
    const float id = symmetric_header(x, 5, y[i]);
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t q0 = uint8_t(std::min(31, int(int8_t(int(x[j] * id + 16.5f)))));
      const uint8_t q1 = uint8_t(std::min(31, int(int8_t(int(x[QK / 2 + j] * id + 16.5f)))));
      y[i].qs[j] = uint8_t((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= ((q0 & 0x10u) >> 4) << (j + 0);
      qh |= ((q1 & 0x10u) >> 4) << (j + QK / 2);
    }
    std::memcpy(y[i].qh, &qh, sizeof(qh));
  }
}

// Q5_1: d = (max - min) / 31, m = min, q = trunc((x - min) / d + 0.5); bits as Q5_0.
void quantize_q5_1(const float* x, void* out, int64_t k) {
  auto* y = static_cast<cpu::BlockQ5_1*>(out);
  for (int64_t i = 0; i < k / QK; ++i, x += QK) {
    float min;
    const float id = min_scale_header(x, 5, y[i], min);
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t q0 = uint8_t(int((x[j] - min) * id + 0.5f));
      const uint8_t q1 = uint8_t(int((x[QK / 2 + j] - min) * id + 0.5f));
      y[i].qs[j] = uint8_t((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= ((q0 & 0x10u) >> 4) << (j + 0);
      qh |= ((q1 & 0x10u) >> 4) << (j + QK / 2);
    }
    std::memcpy(y[i].qh, &qh, sizeof(qh));
  }
}

}  // namespace smoe::quant
