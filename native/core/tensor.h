// A non-owning 2-D view: `rows` x `cols`, row-major, contiguous. 1-D tensors have rows == 1.
// Weights are views into the memory-mapped checkpoint in their stored dtype; activations are F32.
// A quantized row is cols / block_elems ggml blocks (see core/dtype.h), so sizes are in row bytes.
#pragma once
#include <cstdint>
#include "dtype.h"

namespace smoe {

struct Tensor {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;

  size_t row_bytes() const { return smoe::row_bytes(dtype, cols); }
  size_t bytes() const { return size_t(rows) * row_bytes(); }
  // Row r of a 2-D tensor as a view of 1 x cols.
  Tensor row(int64_t r) const { return {static_cast<const char*>(data) + size_t(r) * row_bytes(), dtype, 1, cols}; }
};

}  // namespace smoe
