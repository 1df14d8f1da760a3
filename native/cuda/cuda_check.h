// CUDA error handling: every failing CUDA call becomes a smoe::Error that names the call or kernel, never an
// abort. Out-of-memory becomes code OUT_OF_MEMORY, everything else CUDA_ERROR. Kernel launches are checked
// with check_launch(); errors of a kernel's execution surface at the next synchronizing call (download), or
// at once for every kernel when the environment sets SMOE_CUDA_SYNC=1 (a debugging aid).
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "../core/error.h"

namespace smoe::cuda {

[[noreturn]] inline void throw_cuda(cudaError_t e, const std::string& what) {
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  const std::string detail = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  if (e == cudaErrorMemoryAllocation) throw Error("OUT_OF_MEMORY", what + ": out of GPU memory (" + detail + ")");
  throw Error("CUDA_ERROR", what + " failed: " + detail);
}

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw_cuda(e, what);
}

// True when SMOE_CUDA_SYNC=1: synchronize after every kernel so a fault is reported against its kernel.
bool sync_each_kernel();

// After launching `kernel` on `stream`: reports a launch failure (bad configuration, no kernel image for this
// GPU, ...) naming the kernel; with SMOE_CUDA_SYNC=1 also waits and reports execution faults.
inline void check_launch(const char* kernel, cudaStream_t stream) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw_cuda(e, std::string("kernel ") + kernel + " (launch)");
  if (sync_each_kernel()) {
    e = cudaStreamSynchronize(stream);
    if (e != cudaSuccess) throw_cuda(e, std::string("kernel ") + kernel + " (execution)");
  }
}

}  // namespace smoe::cuda

#define SMOE_CUDA_CHECK(call) ::smoe::cuda::check((call), #call)
