// Dequantization, one function per ggml type, written as ggml-quants.c's dequantize_row_* writes them: the
// same operations in the same order in fp32, so results are bit-identical (built with -ffp-contract=off so
// no a * b - c becomes a fused multiply-add; see CMakeLists.txt). Each reads one row of blocks
// (quant_blocks.h) and writes its elements in order.
#include "dequant.h"

#include <string>

#include "../core/error.h"

#include <cstring>

#include "quant_blocks.h"

namespace smoe::cpu {
namespace {

float h2f(uint16_t h) { return f16_to_f32(h); }

void dq_q8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < QK; ++j) y[i * QK + j] = x[i].qs[j] * d;
  }
}

void dq_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < QK / 2; ++j) {
      const int x0 = (x[i].qs[j] & 0x0F) - 8, x1 = (x[i].qs[j] >> 4) - 8;
      y[i * QK + j] = x0 * d;
      y[i * QK + j + QK / 2] = x1 * d;
    }
  }
}

void dq_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d), m = h2f(x[i].m);
    for (int j = 0; j < QK / 2; ++j) {
      const int x0 = x[i].qs[j] & 0x0F, x1 = x[i].qs[j] >> 4;
      y[i * QK + j] = x0 * d + m;
      y[i * QK + j + QK / 2] = x1 * d + m;
    }
  }
}

void dq_q5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t xh0 = uint8_t(((qh >> (j + 0)) << 4) & 0x10), xh1 = uint8_t((qh >> (j + 12)) & 0x10);
      const int32_t x0 = ((x[i].qs[j] & 0x0F) | xh0) - 16, x1 = ((x[i].qs[j] >> 4) | xh1) - 16;
      y[i * QK + j] = x0 * d;
      y[i * QK + j + QK / 2] = x1 * d;
    }
  }
}

void dq_q5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d), m = h2f(x[i].m);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t xh0 = uint8_t(((qh >> (j + 0)) << 4) & 0x10), xh1 = uint8_t((qh >> (j + 12)) & 0x10);
      const int x0 = (x[i].qs[j] & 0x0F) | xh0, x1 = (x[i].qs[j] >> 4) | xh1;
      y[i * QK + j] = x0 * d + m;
      y[i * QK + j + QK / 2] = x1 * d + m;
    }
  }
}

void dq_q2_k(const BlockQ2_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d), min = h2f(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        uint8_t sc = x[i].scales[is++];
        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * (int8_t)((q[l] >> shift) & 3) - ml;
        sc = x[i].scales[is++];
        dl = d * (sc & 0xF); ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * (int8_t)((q[l + 16] >> shift) & 3) - ml;
        shift += 2;
      }
      q += 32;
    }
  }
}

void dq_q3_k(const BlockQ3_K* x, float* y, int64_t nb) {
  int8_t scales[16];
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = h2f(x[i].d);
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    uint8_t m = 1;
    unpack_q3k_scales(x[i].scales, scales);
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        float dl = d_all * (scales[is++] - 32);
        for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
        dl = d_all * (scales[is++] - 32);
        for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
        shift += 2;
        m = uint8_t(m << 1);
      }
      q += 32;
    }
  }
}

void dq_q4_k(const BlockQ4_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* q = x[i].qs;
    const float d = h2f(x[i].d), min = h2f(x[i].dmin);
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < QK_K; j += 64) {
      scale_min_k4(is + 0, x[i].scales, sc, m);
      const float d1 = d * sc, m1 = min * m;
      scale_min_k4(is + 1, x[i].scales, sc, m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32; is += 2;
    }
  }
}

void dq_q5_k(const BlockQ5_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    const float d = h2f(x[i].d), min = h2f(x[i].dmin);
    int is = 0;
    uint8_t sc, m, u1 = 1, u2 = 2;
    for (int j = 0; j < QK_K; j += 64) {
      scale_min_k4(is + 0, x[i].scales, sc, m);
      const float d1 = d * sc, m1 = min * m;
      scale_min_k4(is + 1, x[i].scales, sc, m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32; is += 2;
      u1 = uint8_t(u1 << 2); u2 = uint8_t(u2 << 2);
    }
  }
}

void dq_q6_k(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int n = 0; n < QK_K; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int8_t q1 = int8_t((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int8_t q2 = int8_t((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int8_t q3 = int8_t((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int8_t q4 = int8_t((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128; ql += 64; qh += 32; sc += 8;
    }
  }
}

template <class B>
const B* blocks(const void* p) { return static_cast<const B*>(p); }

}  // namespace

void dequantize_row(DType t, const void* row, float* out, int64_t n) {
  const int64_t nb = n / block_elems(t);
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = load_as_f32(row, t, size_t(i));
      break;
    case DType::Q8_0: dq_q8_0(blocks<BlockQ8_0>(row), out, nb); break;
    case DType::Q4_0: dq_q4_0(blocks<BlockQ4_0>(row), out, nb); break;
    case DType::Q4_1: dq_q4_1(blocks<BlockQ4_1>(row), out, nb); break;
    case DType::Q5_0: dq_q5_0(blocks<BlockQ5_0>(row), out, nb); break;
    case DType::Q5_1: dq_q5_1(blocks<BlockQ5_1>(row), out, nb); break;
    case DType::Q2_K: dq_q2_k(blocks<BlockQ2_K>(row), out, nb); break;
    case DType::Q3_K: dq_q3_k(blocks<BlockQ3_K>(row), out, nb); break;
    case DType::Q4_K: dq_q4_k(blocks<BlockQ4_K>(row), out, nb); break;
    case DType::Q5_K: dq_q5_k(blocks<BlockQ5_K>(row), out, nb); break;
    case DType::Q6_K: dq_q6_k(blocks<BlockQ6_K>(row), out, nb); break;
    case DType::Q8_0_R8: case DType::Q4_K_R8:  // only matmul weights are interleaved, never a table
      throw Error("INTERNAL", std::string("dequantize_row: a ") + dtype_name(t) + " row is spread over 8 rows' blocks");
  }
}

}  // namespace smoe::cpu
