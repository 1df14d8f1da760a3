// The emulated device of the SIMT emulation build: one device, 'cuda:0', that says what it is in its name
// (backends() and the tests report it as emulated, never as a GPU); compute capability 8.0 (the kernels' sm_80
// paths, mma.sync included); streams that run work at once; the last-error state of the runtime API.
#include <cstdio>

#include "simt_internal.h"

struct CUstream_st {
  int id;
};

namespace smoe::emu {
namespace {

constexpr int kSms = 16;  // multiprocessors: decides attention's split-KV in decode
cudaError_t g_last = cudaSuccess;
cudaError_t g_detail_code = cudaSuccess;
std::string g_detail;
int g_current = 0;

cudaError_t fail(cudaError_t e, const std::string& detail) {
  g_last = e;
  g_detail_code = e;
  g_detail = detail;
  return e;
}

}  // namespace

void set_error(cudaError_t e, const std::string& detail) { fail(e, detail); }

}  // namespace smoe::emu

using namespace smoe::emu;

cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  std::lock_guard<std::mutex> lock(api_lock());
  if (device != 0) return fail(cudaErrorInvalidDevice, "device " + std::to_string(device) + " does not exist (the emulator has one)");
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "%s", "SIMT emulator on the CPU (smoe test build, not a GPU)");
  p->totalGlobalMem = size_t(8) << 30;
  p->sharedMemPerBlock = 48 * 1024;
  p->sharedMemPerBlockOptin = max_dynamic_shared();
  p->major = 8;
  p->minor = 0;
  p->multiProcessorCount = kSms;
  p->maxThreadsPerBlock = 1024;
  p->warpSize = 32;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  std::lock_guard<std::mutex> lock(api_lock());
  if (device != 0) return fail(cudaErrorInvalidDevice, "device " + std::to_string(device) + " does not exist (the emulator has one)");
  g_current = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = g_current;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  static int next = 0;
  std::lock_guard<std::mutex> lock(api_lock());
  *s = new CUstream_st{++next};
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }  // its work ran when it was queued

cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete s;
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  std::lock_guard<std::mutex> lock(api_lock());
  const cudaError_t e = g_last;
  g_last = cudaSuccess;
  return e;
}

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorIllegalInstruction: return "cudaErrorIllegalInstruction";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}

// The text of the most recent error of this code (the emulator's detail: kernel, block, thread, address).
const char* cudaGetErrorString(cudaError_t e) {
  std::lock_guard<std::mutex> lock(api_lock());
  if (e == cudaSuccess) return "no error";
  if (e == g_detail_code) return g_detail.c_str();
  return cudaGetErrorName(e);
}

cudaError_t cudaFuncSetAttribute(const void* fn, cudaFuncAttribute attr, int value) {
  std::lock_guard<std::mutex> lock(api_lock());
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return fail(cudaErrorInvalidValue, "cudaFuncSetAttribute: attribute not emulated");
  return set_opt_in(fn, value);
}
