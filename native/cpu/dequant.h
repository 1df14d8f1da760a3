// Dequantization of weight rows to F32, bit-exact to ggml's dequantize_row_* (for the embedding lookup of a
// quantized token_embd, the tests, and any kernel that wants floats).
#pragma once
#include <cstdint>

#include "../core/dtype.h"

namespace smoe::cpu {

// out[0, n) = row (n elements of dtype t: n / block_elems(t) blocks, or n plain floats) as F32.
// n must be a multiple of block_elems(t).
void dequantize_row(DType t, const void* row, float* out, int64_t n);

}  // namespace smoe::cpu
