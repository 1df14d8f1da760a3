// Dense projections (q/k/v/o, router, lm_head): out[T, ldo] (columns 0..N) = x[T, K] @ W[N, K]^T with W in
// BF16 / F16 / F32 and fp32 accumulation. Decode (T <= 16) takes the memory-bound GEMV (each weight read once
// per 8 tokens); prefill takes 64x64 tiles: tensor cores (mma.sync bf16) in bf16 precision with BF16
// weights, fp32 FMA otherwise. The kernels are in gemm_core.cuh (shared with the grouped expert GEMM).
#include <string>

#include "gemm_core.cuh"

namespace smoe::cuda {

void launch_matmul(float* out, size_t ldo, const float* x, const Tensor& w, int T, Precision prec, cudaStream_t s) {
  if (T <= 0 || w.rows <= 0) return;
  if (w.rows > INT32_MAX || w.cols > INT32_MAX) throw Error("UNSUPPORTED", "matmul: weight too large for the CUDA kernels");
  GemmParams p{};
  p.a = x;
  p.out = out;
  p.ldo = ldo;
  p.K = int(w.cols);
  p.N = int(w.rows);
  p.M = T;
  p.groups = 1;
  p.w1[0] = w.data;
  p.vec = (p.K % 8 == 0 && aligned16(x) && aligned16(w.data)) ? 1 : 0;
  launch_gemm<kDense>(p, w.dtype, T, T, prec, s, "matmul (gemv/simt/mma gemm kernel)");
}

}  // namespace smoe::cuda
