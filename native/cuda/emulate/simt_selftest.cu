// The SIMT emulator's self-test kernels (see simt_selftest.h). Each comment says what the kernel computes and
// which bug it carries; *_ok variants are the corrected kernels and must give the right answer.
#include "simt_selftest.h"

#include "../common.cuh"
#include "../cuda_check.h"

namespace smoe::cuda {
namespace {

constexpr int kN = 256;  // threads per block

// neighbour_kernel<SYNC>: out[b * kN + i] = b * 1000 + (i + 1) % kN, read back from shared memory s[kN] written
// by thread (i + 1) % kN. Without SYNC the __syncthreads between the write and the read is missing.
template <bool SYNC>
__global__ void neighbour_kernel(float* out) {
  __shared__ float s[kN];
  const int i = threadIdx.x;
  s[i] = float(blockIdx.x * 1000 + i);
  if (SYNC) __syncthreads();
  out[blockIdx.x * kN + i] = s[(i + 1) % kN];
}

// reuse_kernel<SYNC>: out[i] = sum over r < 4 of (r * 1000 + (i + 1) % kN), one shared tile s[kN] refilled each
// round. Without SYNC the __syncthreads that keeps a fast thread from refilling the tile while others still read
// it is missing.
template <bool SYNC>
__global__ void reuse_kernel(float* out) {
  __shared__ float s[kN];
  const int i = threadIdx.x;
  float acc = 0.f;
  for (int r = 0; r < 4; ++r) {
    s[i] = float(r * 1000 + i);
    __syncthreads();
    acc += s[(i + 1) % kN];
    if (SYNC) __syncthreads();
  }
  out[i] = acc;
}

// shared_oob_kernel: 128 threads index a 64-float __shared__ array by threadIdx.x (threads 64.. are out of
// bounds). out[i] = 1.
__global__ void shared_oob_kernel(float* out) {
  __shared__ float s[64];
  s[threadIdx.x] = 1.f;
  __syncthreads();
  out[threadIdx.x] = s[threadIdx.x % 64];
}

// global_oob_kernel: 64 threads write out[i + 1] = 1 into a 64-float buffer (thread 63 writes past its end).
__global__ void global_oob_kernel(float* out) { out[threadIdx.x + 1] = 1.f; }

// dynamic_oob_kernel: 32 threads read dynamic shared memory of 32 floats at index i + 1 (thread 31 reads past its
// end) after writing index i. out[i] = i + 1.
__global__ void dynamic_oob_kernel(float* out) {
  SMOE_DYNAMIC_SHARED(float, d);
  d[threadIdx.x] = float(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = d[threadIdx.x + 1];
}

// divergent_shfl_kernel: lanes 0..15 of a warp call __shfl_xor_sync with the full mask, lanes 16..31 exit:
// out[i] = i ^ 1 for the first half (a deadlock on a GPU: undefined behaviour).
__global__ void divergent_shfl_kernel(float* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_xor_sync(kFullMask, float(threadIdx.x), 1);
}

// shfl_ok_kernel: out[i] = the warp sum of i (= 496) for 64 threads, by warp_sum.
__global__ void shfl_ok_kernel(float* out) { out[threadIdx.x] = warp_sum(float(threadIdx.x & 31)); }

}  // namespace

std::vector<float> simt_selftest(const std::string& name) {
  size_t n = kN;
  float* d = nullptr;
  auto run = [&](size_t floats, auto&& launch) {
    n = floats;
    check(cudaMalloc(reinterpret_cast<void**>(&d), n * sizeof(float)), "cudaMalloc (self-test)");
    launch();
    cudaError_t e = cudaGetLastError();
    std::vector<float> out(n);
    if (e == cudaSuccess) e = cudaMemcpy(out.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost);
    cudaFree(d);
    if (e != cudaSuccess) throw_cuda(e, "self-test kernel " + name);
    return out;
  };
  if (name == "neighbour") return run(4 * kN, [&] { SMOE_LAUNCH(4, kN, 0, nullptr, neighbour_kernel<false>)(d); });
  if (name == "neighbour_ok") return run(4 * kN, [&] { SMOE_LAUNCH(4, kN, 0, nullptr, neighbour_kernel<true>)(d); });
  if (name == "reuse") return run(kN, [&] { SMOE_LAUNCH(1, kN, 0, nullptr, reuse_kernel<false>)(d); });
  if (name == "reuse_ok") return run(kN, [&] { SMOE_LAUNCH(1, kN, 0, nullptr, reuse_kernel<true>)(d); });
  if (name == "shared_oob") return run(128, [&] { SMOE_LAUNCH(1, 128, 0, nullptr, shared_oob_kernel)(d); });
  if (name == "global_oob") return run(64, [&] { SMOE_LAUNCH(1, 64, 0, nullptr, global_oob_kernel)(d); });
  if (name == "dynamic_oob") return run(32, [&] { SMOE_LAUNCH(1, 32, 32 * sizeof(float), nullptr, dynamic_oob_kernel)(d); });
  if (name == "divergent_shfl") return run(32, [&] { SMOE_LAUNCH(1, 32, 0, nullptr, divergent_shfl_kernel)(d); });
  if (name == "shfl_ok") return run(64, [&] { SMOE_LAUNCH(1, 64, 0, nullptr, shfl_ok_kernel)(d); });
  throw Error("INVALID_ARGUMENT", "opTest: no self-test kernel '" + name + "'");
}

}  // namespace smoe::cuda
