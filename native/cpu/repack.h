// Rows of Q8_0 / Q4_K weights interleaved by eight for the x86 kernels (quant_blocks.h: BlockQ8_0x8,
// BlockQ4_Kx8; quant_dot_x86.h: dot8), done once at load, in place: a group of 8 rows holds exactly the bytes
// of its 8 rows, so offsets and sizes are those of the base type. Rows [0, rows / 8 * 8) are regrouped;
// the rows past the last whole group stay as they were and the kernels read them as the base type.
#pragma once
#include <cstdint>

#include "../core/dtype.h"

namespace smoe::cpu {

// The interleaved type of t (Q8_0 -> Q8_0_R8, Q4_K -> Q4_K_R8), or t itself when it has none.
DType interleaved(DType t);
// Rewrites rows x cols of type t at data (rows * row_bytes(t, cols) bytes, writable) in the interleaved
// layout of t. t must have one (interleaved(t) != t).
void interleave_rows(void* data, DType t, int64_t rows, int64_t cols);

}  // namespace smoe::cpu
