// CPU backend: memory, embedding, residual add and the threaded matmul driver.
#include "cpu_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../core/error.h"

namespace smoe::cpu {

CpuBackend::CpuBackend(int threads, const std::string& simd)
    : pool_(threads), simd_(select_simd(simd)), mm_(matmul_kernel(simd_)) {}

float* CpuBackend::alloc(size_t floats) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, std::max<size_t>(64, floats * sizeof(float))) != 0)
    throw Error("OUT_OF_MEMORY", "cannot allocate " + std::to_string(floats * sizeof(float)) + " bytes of host memory");
  return static_cast<float*>(p);
}
void CpuBackend::release(float* p) { std::free(p); }
void CpuBackend::copy(float* dst, const float* src, size_t floats) { std::memcpy(dst, src, floats * sizeof(float)); }
void CpuBackend::download(float* host, const float* src, size_t floats) { std::memcpy(host, src, floats * sizeof(float)); }

// out[t, :] = table[ids[t], :] converted to F32.
void CpuBackend::embed(float* out, const Tensor& table, const int32_t* ids, int T) {
  const int64_t D = table.cols;
  for (int t = 0; t < T; ++t) {
    const Tensor r = table.row(ids[t]);
    for (int64_t i = 0; i < D; ++i) out[size_t(t) * D + i] = load_as_f32(r.data, r.dtype, size_t(i));
  }
}

void CpuBackend::add(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

void CpuBackend::matmul_cols(float* out, int64_t ldo, const float* x, int64_t T, const Tensor& w) {
  const int64_t O = w.rows, K = w.cols;
  MatmulFn mm = mm_;
  // Rows of w are split across threads in multiples of 16 so tiles stay whole.
  pool_.parallel_for(O, 16, [&](int64_t o0, int64_t o1, int) { mm(out, ldo, x, T, K, w.data, w.dtype, o0, o1); });
}

void CpuBackend::matmul(float* out, const float* x, const Tensor& w, int T) { matmul_cols(out, w.rows, x, T, w); }

// One parallel pass over the rows of all the weights, as if they were stacked: one sync instead of n, and
// each thread streams one contiguous share of the bytes.
void CpuBackend::matmul_many(const Projection* p, int n, const float* x, int T) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += p[i].w->rows;
  MatmulFn mm = mm_;
  pool_.parallel_for(total, 16, [&](int64_t r0, int64_t r1, int) {
    int64_t base = 0;
    for (int i = 0; i < n; ++i) {
      const Tensor& w = *p[i].w;
      const int64_t b = std::max(r0, base), e = std::min(r1, base + w.rows);
      if (b < e) mm(p[i].out, w.rows, x, T, w.cols, w.data, w.dtype, b - base, e - base);
      base += w.rows;
    }
  });
}

}  // namespace smoe::cpu
