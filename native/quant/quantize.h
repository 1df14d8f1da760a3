// Quantizers: rows of fp32 into ggml's quantized blocks, byte for byte as llama-quantize writes them without
// an importance matrix (ggml-quants.c's quantize_row_*_ref, which quantize_* calls when quant_weights is
// null). A row of n_per_row elements becomes n_per_row / block_elems(type) consecutive blocks; rows follow
// each other in dst (row r at dst + r * row_bytes(type, n_per_row)). Each block depends only on its own
// elements, so any split of the rows gives the same bytes.
#pragma once
#include <cstdint>

#include "../core/dtype.h"

namespace smoe::quant {

// True for the types these quantizers write: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, and the
// plain F32 / F16 / BF16 (ggml's round-to-nearest-even conversions).
bool can_quantize(DType type);

// Quantizes nrows rows of n_per_row fp32 values (src, row-major) into dst. n_per_row must be a multiple of
// block_elems(type) (the caller checks). Throws smoe::Error for a type it cannot write.
void quantize_rows(DType type, const float* src, void* dst, int64_t nrows, int64_t n_per_row);

// The per-format row quantizers (k = elements, a multiple of the block size), in quantize_legacy.cpp and
// quantize_kquants.cpp.
void quantize_q8_0(const float* x, void* y, int64_t k);
void quantize_q4_0(const float* x, void* y, int64_t k);
void quantize_q4_1(const float* x, void* y, int64_t k);
void quantize_q5_0(const float* x, void* y, int64_t k);
void quantize_q5_1(const float* x, void* y, int64_t k);
void quantize_q2_k(const float* x, void* y, int64_t k);
void quantize_q3_k(const float* x, void* y, int64_t k);
void quantize_q4_k(const float* x, void* y, int64_t k);
void quantize_q5_k(const float* x, void* y, int64_t k);
void quantize_q6_k(const float* x, void* y, int64_t k);

}  // namespace smoe::quant
