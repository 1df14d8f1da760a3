// Internals shared by the SIMT emulation's runtime files (not seen by the kernels).
#pragma once
#include <csetjmp>
#include <cstdint>
#include <mutex>
#include <string>

#include "simt.h"

namespace smoe::emu {

// Every runtime call and launch holds this lock: one launch runs at a time, on the calling thread.
std::mutex& api_lock();

// The error cudaGetLastError returns next (and cudaGetErrorString's text for it: the detail of the fault).
void set_error(cudaError_t e, const std::string& detail);

// What `addr` is: "N bytes past the end of the B-byte allocation at 0x..", "in a fiber's stack guard", ...
std::string describe_address(const void* addr);
// Checks the slack bytes around every allocation (filled with a pattern at cudaMalloc); returns "" or what
// was overwritten.
std::string check_allocation_slack();

// Guarded host memory: `bytes` usable bytes that end where a PROT_NONE page begins (and one below them).
struct Guarded {
  char* base = nullptr;   // the mapping
  size_t total = 0;
  char* data = nullptr;   // 16-byte aligned, data + round16(bytes) == the upper guard page
  size_t bytes = 0;
};
Guarded guarded_alloc(size_t bytes, int fill);
void guarded_free(Guarded& g);

// Faults inside a running launch (simt_faults.cpp): signal handlers on an alternate stack that jump back to
// the scheduler with a description of the fault.
struct FaultScope {
  FaultScope();
  ~FaultScope();
};
// The jump target a fault returns to, and the text of the fault (valid after the jump).
extern sigjmp_buf* g_fault_jump;
extern std::string g_fault_text;
// The running thread, described for fault messages ("kernel K, block (x,y,z), thread (x,y,z)").
std::string where_now();
const char* running_kernel();
// Regions whose faults are named (the dynamic shared memory of the running block, fiber stack guards).
bool in_dynamic_shared_guard(const void* addr, std::string& what);
bool in_stack_guard(const void* addr, std::string& what);

// cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, value), checked at launch.
cudaError_t set_opt_in(const void* fn, int value);
size_t max_dynamic_shared();

}  // namespace smoe::emu
