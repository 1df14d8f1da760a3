// Device enumeration through the CUDA runtime (linked statically; it loads the driver, libcuda, at run time,
// so a machine without a driver gets an error code here rather than a failed load of the addon).
#include "cuda_check.h"
#include "device_info.h"

#include <cstdlib>

namespace smoe::cuda {

bool sync_each_kernel() {
  static const bool on = [] {
    const char* v = std::getenv("SMOE_CUDA_SYNC");
    return v && std::string(v) == "1";
  }();
  return on;
}

DeviceList list_devices() {
  DeviceList r;
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (e == cudaErrorNoDevice) r.reason = "no CUDA device found (cudaErrorNoDevice)";
    else if (e == cudaErrorInsufficientDriver)
      r.reason = "no usable NVIDIA driver: none is installed, or it is older than this build's CUDA runtime "
                 "(cudaErrorInsufficientDriver)";
    else r.reason = std::string("CUDA is not usable: ") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
    return r;
  }
  if (n == 0) { r.reason = "no CUDA device found"; return r; }
  std::string skipped;
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    e = cudaGetDeviceProperties(&p, i);
    if (e != cudaSuccess) {
      cudaGetLastError();
      skipped += (skipped.empty() ? "" : "; ") + std::string("cuda:") + std::to_string(i) + ": " + cudaGetErrorString(e);
      continue;
    }
    if (p.major < kMinMajor) {
      skipped += (skipped.empty() ? "" : "; ") + std::string("cuda:") + std::to_string(i) + " (" + p.name +
                 ", compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor) +
                 ") is older than the 8.0 this build needs";
      continue;
    }
    r.devices.push_back({i, p.name, size_t(p.totalGlobalMem), p.major, p.minor});
  }
  if (!skipped.empty()) r.reason = "left out: " + skipped;
  return r;
}

void device_memory(int device, size_t& free_bytes, size_t& total_bytes) {
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
}

}  // namespace smoe::cuda
