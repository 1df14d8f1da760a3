// CUDA device enumeration, callable from plain C++ (the addon). Compiled from device_info.cu when the build
// has CUDA; without it the addon reports `compiled: false` and never calls these.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace smoe::cuda {

struct DeviceInfo {
  int index = 0;              // the CUDA ordinal: device 'cuda:<index>'
  std::string name;           // e.g. "NVIDIA H100 80GB HBM3"
  size_t total_memory = 0;    // bytes
  int major = 0, minor = 0;   // compute capability
};

struct DeviceList {
  std::vector<DeviceInfo> devices;  // the usable devices (compute capability 8.0 or newer)
  std::string reason;               // why the list is empty, or which devices were left out; else ""
};

// Never throws: with no driver or no GPU the list is empty and `reason` says why.
DeviceList list_devices();

// Free and total memory of a device in bytes (creates its context). Throws smoe::Error{CUDA_ERROR}.
void device_memory(int device, size_t& free_bytes, size_t& total_bytes);

// The oldest compute capability this build runs on (8.0: the mma.sync bf16 kernels need Ampere).
constexpr int kMinMajor = 8;

}  // namespace smoe::cuda
