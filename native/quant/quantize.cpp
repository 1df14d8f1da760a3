// quantize_rows: dispatch to the per-format quantizers (quantize_legacy.cpp, quantize_kquants.cpp) and the
// plain-float conversions.
#include "quantize.h"

#include <cstring>
#include <string>

#include "../core/error.h"
#include "half_round.h"

namespace smoe::quant {

using RowQuantizer = void (*)(const float*, void*, int64_t);

// The plain-float targets, as ggml_quantize_chunk writes them: F32 as is, F16 and BF16 rounded to nearest even.
static void to_f32(const float* x, void* y, int64_t k) { std::memcpy(y, x, size_t(k) * 4); }
static void to_f16(const float* x, void* y, int64_t k) {
  auto* out = static_cast<uint16_t*>(y);
  for (int64_t i = 0; i < k; ++i) out[i] = ggml_fp16(x[i]);
}
static void to_bf16(const float* x, void* y, int64_t k) {
  auto* out = static_cast<uint16_t*>(y);
  for (int64_t i = 0; i < k; ++i) out[i] = ggml_bf16(x[i]);
}

static RowQuantizer quantizer_for(DType type) {
  switch (type) {
    case DType::F32: return to_f32;
    case DType::F16: return to_f16;
    case DType::BF16: return to_bf16;
    case DType::Q8_0: return quantize_q8_0;
    case DType::Q4_0: return quantize_q4_0;
    case DType::Q4_1: return quantize_q4_1;
    case DType::Q5_0: return quantize_q5_0;
    case DType::Q5_1: return quantize_q5_1;
    case DType::Q2_K: return quantize_q2_k;
    case DType::Q3_K: return quantize_q3_k;
    case DType::Q4_K: return quantize_q4_k;
    case DType::Q5_K: return quantize_q5_k;
    case DType::Q6_K: return quantize_q6_k;
    default: return nullptr;
  }
}

bool can_quantize(DType type) { return quantizer_for(type) != nullptr; }

void quantize_rows(DType type, const float* src, void* dst, int64_t nrows, int64_t n_per_row) {
  RowQuantizer q = quantizer_for(type);
  if (!q) throw Error("UNSUPPORTED_QUANT", std::string("cannot quantize to ") + dtype_name(type));
  // Blocks never straddle rows (n_per_row is a multiple of the block size), so the rows are one run.
  q(src, dst, nrows * n_per_row);
}

}  // namespace smoe::quant
