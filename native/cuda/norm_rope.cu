// RMSNorm and rotary position embedding on fp32 activations (the formulas of cpu/norm_rope.cpp).
#include "common.cuh"
#include "cuda_check.h"
#include "kernels.h"

namespace smoe::cuda {
namespace {

constexpr int kNormThreads = 256;

// rmsnorm_kernel: out[t, :] = w * (x[t, :] * rsqrt(mean(x[t, :]^2) + eps)).
//   x, out: [T, D] fp32 row-major (may alias); w: [D] in its stored dtype. One block of 256 threads per row:
//   a strided sum of squares, reduced per warp then across the 8 warps in shared memory.
template <DType WT>
__global__ void __launch_bounds__(kNormThreads) rmsnorm_kernel(float* out, const float* x, const void* __restrict__ w,
                                                               int D, float eps) {
  const float* xr = x + size_t(blockIdx.x) * D;
  float* o = out + size_t(blockIdx.x) * D;
  float ss = 0.f;
  for (int i = threadIdx.x; i < D; i += kNormThreads) ss += xr[i] * xr[i];
  ss = warp_sum(ss);
  __shared__ float part[kNormThreads / 32];
  __shared__ float r_shared;
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = ss;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.f;
    for (int i = 0; i < kNormThreads / 32; ++i) total += part[i];
    r_shared = 1.0f / sqrtf(total / float(D) + eps);
  }
  __syncthreads();
  const float r = r_shared;
  for (int i = threadIdx.x; i < D; i += kNormThreads) o[i] = load_w<WT>(w, size_t(i)) * (xr[i] * r);
}

// rope_kernel: RoPE in place. x: [T, heads * Hd] fp32; pos: [T]; inv_freq: [Hd / 2].
//   One thread per (t, head, i < Hd/2), a = float(pos[t]) * inv_freq[i] in fp32 (as transformers), on the pair
//   (j, k) = (i, i + Hd/2) (rotate-half) or (2i, 2i + 1) (`pairs`, llama.cpp's NORM mode for GGUF q/k rows):
//   x[j] <- x[j] cos a - x[k] sin a;  x[k] <- x[k] cos a + x[j] sin a.
__global__ void rope_kernel(float* __restrict__ x, int T, int heads, int head_dim, const int32_t* __restrict__ pos,
                            const float* __restrict__ inv_freq, bool pairs) {
  const int half = head_dim / 2;
  const size_t n = size_t(T) * heads * half;
  for (size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += size_t(gridDim.x) * blockDim.x) {
    const int i = int(idx % half);
    const size_t th = idx / half;  // t * heads + head
    const int t = int(th / heads);
    const float a = float(pos[t]) * inv_freq[i];
    const float c = cosf(a), s = sinf(a);
    float* v = x + th * head_dim;
    const int j = pairs ? 2 * i : i, k = pairs ? 2 * i + 1 : i + half;
    const float x0 = v[j], x1 = v[k];
    v[j] = x0 * c - x1 * s;
    v[k] = x1 * c + x0 * s;
  }
}

}  // namespace

void launch_rmsnorm(float* out, const float* x, const Tensor& w, int T, int D, float eps, cudaStream_t s) {
  if (T <= 0) return;
  switch (w.dtype) {
    case DType::F32: rmsnorm_kernel<DType::F32><<<T, kNormThreads, 0, s>>>(out, x, w.data, D, eps); break;
    case DType::F16: rmsnorm_kernel<DType::F16><<<T, kNormThreads, 0, s>>>(out, x, w.data, D, eps); break;
    case DType::BF16: rmsnorm_kernel<DType::BF16><<<T, kNormThreads, 0, s>>>(out, x, w.data, D, eps); break;
  }
  check_launch("rmsnorm_kernel", s);
}

void launch_rope(float* x, int T, int heads, int head_dim, const int32_t* pos, const float* inv_freq, bool pairs,
                 cudaStream_t s) {
  const size_t n = size_t(T) * heads * (head_dim / 2);
  if (n == 0) return;
  const unsigned blocks = unsigned(std::min<size_t>(ceil_div(n, 256), 8192));
  rope_kernel<<<blocks, 256, 0, s>>>(x, T, heads, head_dim, pos, inv_freq, pairs);
  check_launch("rope_kernel", s);
}

}  // namespace smoe::cuda
