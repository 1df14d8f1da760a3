// Device memory of the SIMT emulation: every cudaMalloc is its own mapping whose data ends where a PROT_NONE
// page begins (and starts above another), so an access past either end faults and is reported against the
// allocation table; fresh memory and the slack bytes of the 16-byte rounding are filled with 0xff (NaN as
// fp32), as uninitialized GPU memory holds garbage, and the slack is checked after every launch.
// cudaMemcpy checks that its device ranges lie inside one allocation.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "simt_internal.h"

namespace smoe::emu {
namespace {

constexpr size_t kDeviceMemory = size_t(8) << 30;  // what the emulated device reports as its memory

size_t page() {
  static const size_t p = size_t(sysconf(_SC_PAGESIZE));
  return p;
}
size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

std::map<uintptr_t, Guarded>& table() {  // data address -> allocation
  static std::map<uintptr_t, Guarded> t;
  return t;
}
size_t g_used = 0;

const Guarded* find(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = table().upper_bound(a);
  if (it == table().begin()) return nullptr;
  --it;
  const Guarded& g = it->second;
  return a >= uintptr_t(g.base) && a < uintptr_t(g.base + g.total) ? &g : nullptr;
}

std::string hex(const void* p) {
  char b[32];
  std::snprintf(b, sizeof b, "%p", p);
  return b;
}

// Device range [p, p + n) lies inside one allocation; else the error text.
std::string check_range(const void* p, size_t n, const char* role) {
  const Guarded* g = find(p);
  const char* a = static_cast<const char*>(p);
  if (!g || a < g->data) return std::string(role) + " " + hex(p) + " is not device memory (no cudaMalloc allocation holds it)";
  if (size_t(a - g->data) + n > g->bytes)
    return std::string(role) + " range " + hex(p) + " + " + std::to_string(n) + " bytes runs " +
           std::to_string(size_t(a - g->data) + n - g->bytes) + " bytes past the end of the " + std::to_string(g->bytes) +
           "-byte allocation at " + hex(g->data);
  return "";
}

bool slack_intact(const Guarded& g) {
  const size_t pg = page();
  for (const char* p = g.base + pg; p < g.data; ++p)
    if (static_cast<unsigned char>(*p) != 0xffu) return false;
  for (const char* p = g.data + g.bytes; p < g.base + g.total - pg; ++p)
    if (static_cast<unsigned char>(*p) != 0xffu) return false;
  return true;
}

}  // namespace

std::mutex& api_lock() {
  static std::mutex m;
  return m;
}

Guarded guarded_alloc(size_t bytes, int fill) {
  const size_t pg = page(), body = round_up(std::max<size_t>(round_up(bytes, 16), 1), pg);
  Guarded g;
  g.total = body + 2 * pg;
  void* m = mmap(nullptr, g.total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return Guarded{};
  g.base = static_cast<char*>(m);
  mprotect(g.base, pg, PROT_NONE);
  mprotect(g.base + pg + body, pg, PROT_NONE);
  g.bytes = bytes;
  g.data = g.base + pg + body - round_up(bytes, 16);
  if (fill >= 0) std::memset(g.base + pg, fill, body);
  return g;
}

void guarded_free(Guarded& g) {
  if (g.base) munmap(g.base, g.total);
  g = Guarded{};
}

std::string describe_address(const void* addr) {
  std::string what;
  if (in_dynamic_shared_guard(addr, what) || in_stack_guard(addr, what)) return what;
  const Guarded* g = find(addr);
  if (!g) return "outside every device allocation";
  const char* a = static_cast<const char*>(addr);
  if (a >= g->data + g->bytes)
    return std::to_string(size_t(a - g->data) - g->bytes) + " bytes past the end of the " + std::to_string(g->bytes) +
           "-byte device allocation at " + hex(g->data);
  return std::to_string(size_t(g->data - a)) + " bytes before the start of the " + std::to_string(g->bytes) +
         "-byte device allocation at " + hex(g->data);
}

std::string check_allocation_slack() {
  for (auto& kv : table())
    if (!slack_intact(kv.second))
      return "outside the " + std::to_string(kv.second.bytes) + "-byte device allocation at " + hex(kv.second.data) +
             " (into the padding around it)";
  return "";
}

}  // namespace smoe::emu

using namespace smoe::emu;

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  std::lock_guard<std::mutex> lock(api_lock());
  *total_bytes = kDeviceMemory;
  *free_bytes = kDeviceMemory - std::min(g_used, kDeviceMemory);
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  std::lock_guard<std::mutex> lock(api_lock());
  *p = nullptr;
  if (bytes > kDeviceMemory - std::min(g_used, kDeviceMemory)) {
    set_error(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(bytes) + " bytes: the emulated device has " +
                                             std::to_string(kDeviceMemory - g_used) + " bytes free");
    return cudaErrorMemoryAllocation;
  }
  Guarded g = guarded_alloc(bytes, 0xff);
  if (!g.base) {
    set_error(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(bytes) + " bytes: host mmap failed");
    return cudaErrorMemoryAllocation;
  }
  g_used += bytes;
  table()[reinterpret_cast<uintptr_t>(g.data)] = g;
  *p = g.data;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  std::lock_guard<std::mutex> lock(api_lock());
  if (!p) return cudaSuccess;
  auto it = table().find(reinterpret_cast<uintptr_t>(p));
  if (it == table().end()) {
    set_error(cudaErrorInvalidValue, "cudaFree(" + hex(p) + "): not the start of a device allocation");
    return cudaErrorInvalidValue;
  }
  g_used -= it->second.bytes;
  guarded_free(it->second);
  table().erase(it);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  std::lock_guard<std::mutex> lock(api_lock());
  if (bytes == 0) return cudaSuccess;
  std::string bad;
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice) bad = check_range(dst, bytes, "destination");
  if (bad.empty() && (kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice)) bad = check_range(src, bytes, "source");
  if (bad.empty() && kind == cudaMemcpyHostToDevice && find(src)) bad = "source " + hex(src) + " is device memory in a host-to-device copy";
  if (bad.empty() && kind == cudaMemcpyDeviceToHost && find(dst)) bad = "destination " + hex(dst) + " is device memory in a device-to-host copy";
  if (!bad.empty()) {
    set_error(cudaErrorInvalidValue, "cudaMemcpy: " + bad);
    return cudaErrorInvalidValue;
  }
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

// Streams run their work when it is queued, in order: an asynchronous copy is a synchronous one.
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
