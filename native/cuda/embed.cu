// Token embedding lookup and the residual add.
#include "common.cuh"
#include "cuda_check.h"
#include "kernels.h"

namespace smoe::cuda {
namespace {

// embed_kernel: out[t, d] = fp32(table[ids[t], d]).
//   table: [V, D] row-major in its stored dtype; ids: [T] int32 (validated by the caller); out: [T, D] fp32.
//   Grid (ceil(D / 256), T), one thread per output element, coalesced along d.
template <DType WT>
__global__ void embed_kernel(float* __restrict__ out, const void* __restrict__ table, const int32_t* __restrict__ ids,
                             int64_t D) {
  const int t = blockIdx.y;
  const int64_t d = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (d >= D) return;
  out[size_t(t) * D + d] = load_w<WT>(table, size_t(ids[t]) * size_t(D) + size_t(d));
}

// add_kernel: x[i] += y[i] for i < n (grid-stride).
__global__ void add_kernel(float* __restrict__ x, const float* __restrict__ y, size_t n) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    x[i] += y[i];
}

}  // namespace

void launch_embed(float* out, const Tensor& table, const int32_t* ids, int T, cudaStream_t s) {
  if (T <= 0) return;
  const dim3 grid(ceil_div(size_t(table.cols), 256), unsigned(T));
  switch (table.dtype) {
    case DType::F32: SMOE_LAUNCH(grid, 256, 0, s, embed_kernel<DType::F32>)(out, table.data, ids, table.cols); break;
    case DType::F16: SMOE_LAUNCH(grid, 256, 0, s, embed_kernel<DType::F16>)(out, table.data, ids, table.cols); break;
    case DType::BF16: SMOE_LAUNCH(grid, 256, 0, s, embed_kernel<DType::BF16>)(out, table.data, ids, table.cols); break;
  }
  check_launch("embed_kernel", s);
}

void launch_add(float* x, const float* y, size_t n, cudaStream_t s) {
  if (n == 0) return;
  const unsigned blocks = unsigned(std::min<size_t>(ceil_div(n, 256), 4096));
  SMOE_LAUNCH(blocks, 256, 0, s, add_kernel)(x, y, n);
  check_launch("add_kernel", s);
}

}  // namespace smoe::cuda
