// The CUDA C++ subset smoe's kernels use, for the host compiler (the SIMT emulation build,
// -DSMOE_CUDA_EMULATE=ON): the .cu sources of native/cuda compile unchanged against this header, which the
// shim headers include/cuda_runtime.h, cuda_bf16.h and cuda_fp16.h pull in.
//
// Execution model (simt_scheduler.cpp): a launch runs its blocks one after another, in a random order; each
// block's threads are fibers on small pooled stacks, switched at every synchronization point in a random
// (seeded, per launch) order, so a missing __syncthreads or racy reuse of shared memory gives wrong results.
//   __syncthreads      a barrier over the block's (non-exited) threads
//   __shfl*_sync, __ballot_sync, mma_m16n8k16_bf16
//                      an exchange among the lanes of a warp at a warp barrier; every lane named in the mask
//                      must arrive at the same intrinsic, else the launch fails (naming kernel, block, lanes)
//   __shared__         a function-local static: one instance, shared by the running block (blocks and
//                      launches run one at a time); dynamic shared memory (SMOE_DYNAMIC_SHARED) is a guarded
//                      buffer of exactly the launch's size
//   atomics            plain read-modify-write (fibers never interleave inside one)
// Faults (out-of-bounds global or shared accesses, array indexes out of bounds, __trap) end the launch with
// a CUDA error whose text names the kernel, block and thread (simt_faults.cpp).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <climits>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "simt_api.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __grid_constant__
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static

struct uint3 { unsigned x, y, z; };
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned x, y; };
inline uint2 make_uint2(unsigned x, unsigned y) { return uint2{x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }

namespace smoe::emu {

// The running thread's index and the running block's geometry (one launch at a time, see simt_api.h).
extern const uint3* g_thread_idx;
extern uint3 g_block_idx, g_block_dim, g_grid_dim;

// Warp exchanges: every participating lane deposits `value`; returns the lane's result once all have.
enum class WarpOp { Shfl, ShflXor, Ballot };
uint64_t warp_exchange(WarpOp op, unsigned mask, uint64_t value, int arg, const char* what);
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 over the warp's fragments (simt_mma.cpp).
void warp_mma_m16n8k16_bf16(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1, const float c[4]);
void block_barrier();
[[noreturn]] void trap(const char* what);
void* dynamic_shared(size_t align);

template <class T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp exchanges move up to 8 bytes");
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}
template <class T>
T from_bits(uint64_t u) {
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}

// A kernel launch: SMOE_LAUNCH(grid, block, smem, stream, kernel)(args...) converts the arguments to the
// kernel's parameter types once (as the launch does on a GPU) and runs every thread on its own copy.
struct LaunchConfig {
  const char* name;
  const void* fn;
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
};
void launch(const LaunchConfig& c, const std::function<void()>& thread_body);

template <class... P>
struct Launcher {
  LaunchConfig c;
  void (*fn)(P...);
  template <class... A>
  void operator()(A&&... a) const {
    const std::tuple<std::decay_t<P>...> args(std::forward<A>(a)...);
    launch(c, [&] { std::apply(fn, args); });
  }
};
template <class... P>
Launcher<P...> make_launcher(const char* name, void (*fn)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t s) {
  return Launcher<P...>{LaunchConfig{name, reinterpret_cast<const void*>(fn), grid, block, smem, s}, fn};
}

}  // namespace smoe::emu

#define threadIdx (*::smoe::emu::g_thread_idx)
#define blockIdx (::smoe::emu::g_block_idx)
#define blockDim (::smoe::emu::g_block_dim)
#define gridDim (::smoe::emu::g_grid_dim)
#define SMOE_LAUNCH(grid, block, smem, stream, ...) \
  ::smoe::emu::make_launcher(#__VA_ARGS__, __VA_ARGS__, grid, block, smem, stream)
#define SMOE_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::smoe::emu::dynamic_shared(alignof(T)))

inline void __syncthreads() { ::smoe::emu::block_barrier(); }
template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
  if (width != 32) ::smoe::emu::trap("__shfl_sync with a width other than 32 is not emulated");
  return ::smoe::emu::from_bits<T>(::smoe::emu::warp_exchange(::smoe::emu::WarpOp::Shfl, mask, ::smoe::emu::to_bits(v), src_lane, "__shfl_sync"));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  if (width != 32) ::smoe::emu::trap("__shfl_xor_sync with a width other than 32 is not emulated");
  return ::smoe::emu::from_bits<T>(::smoe::emu::warp_exchange(::smoe::emu::WarpOp::ShflXor, mask, ::smoe::emu::to_bits(v), lane_mask, "__shfl_xor_sync"));
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  return unsigned(::smoe::emu::warp_exchange(::smoe::emu::WarpOp::Ballot, mask, pred != 0, 0, "__ballot_sync"));
}
[[noreturn]] inline void __trap() { ::smoe::emu::trap("__trap()"); }

inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int atomicMin(int* p, int v) { const int old = *p; if (v < old) *p = v; return old; }
inline int atomicMax(int* p, int v) { const int old = *p; if (v > old) *p = v; return old; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
template <class T>
inline T __ldg(const T* p) { return *p; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
