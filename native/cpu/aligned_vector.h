// std::vector whose storage starts on a 64-byte boundary (a cache line, one AVX-512 vector): the scratch
// panels of the prefill kernels are read with full-width loads, which split across two lines (and ran
// ~30% slower, bench/micro/gemm.cpp) on the 16-byte boundaries malloc gives.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace smoe::cpu {

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U> CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) {
    void* p = nullptr;
    if (posix_memalign(&p, 64, std::max<size_t>(64, n * sizeof(T))) != 0) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <class U> bool operator==(const CacheLineAllocator<U>&) const { return true; }
  template <class U> bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace smoe::cpu
