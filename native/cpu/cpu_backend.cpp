// CPU backend: memory, embedding, residual add and the threaded matmul driver.
#include "cpu_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../core/error.h"
#include "dequant.h"

namespace smoe::cpu {

CpuBackend::CpuBackend(int threads, const std::string& simd)
    : pool_(threads), simd_(select_simd(simd)), mm_(matmul_kernel(simd_)), qmm_(quant_matmul_kernel(simd_)) {}

float* CpuBackend::alloc(size_t floats) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, std::max<size_t>(64, floats * sizeof(float))) != 0)
    throw Error("OUT_OF_MEMORY", "cannot allocate " + std::to_string(floats * sizeof(float)) + " bytes of host memory");
  return static_cast<float*>(p);
}
void CpuBackend::release(float* p) { std::free(p); }
void CpuBackend::copy(float* dst, const float* src, size_t floats) { std::memcpy(dst, src, floats * sizeof(float)); }
void CpuBackend::download(float* host, const float* src, size_t floats) { std::memcpy(host, src, floats * sizeof(float)); }

// out[t, :] = table[ids[t], :] converted to F32 (dequantized as ggml's get_rows does).
void CpuBackend::embed(float* out, const Tensor& table, const int32_t* ids, int T) {
  const int64_t D = table.cols;
  for (int t = 0; t < T; ++t) dequantize_row(table.dtype, table.row(ids[t]).data, out + size_t(t) * D, D);
}

void CpuBackend::add(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

PreparedX CpuBackend::prepare_x(const float* x, int64_t T, int64_t K, const Tensor* const* ws, int n,
                               ActScratch& scratch) {
  PreparedX p;
  p.f32 = x;
  p.T = T;
  p.K = K;
  bool need[kActFormats] = {};
  for (int i = 0; i < n; ++i) need[int(act_format(ws[i]->dtype))] = true;
  for (int f = 1; f < kActFormats; ++f) {
    if (!need[f]) continue;
    const ActFormat fmt = ActFormat(f);
    std::vector<uint8_t>& buf = scratch.buf[f];
    buf.resize(size_t(T) * act_row_bytes(fmt, K));
    uint8_t* dst = buf.data();
    pool_.parallel_for(T, 1, [&](int64_t t0, int64_t t1, int) { quantize_act_rows(fmt, x, K, t0, t1, dst); });
    p.q[f] = dst;
  }
  return p;
}

void CpuBackend::matmul_cols(float* out, int64_t ldo, const float* x, int64_t T, const Tensor& w) {
  const Tensor* ws[1] = {&w};
  const PreparedX px = prepare_x(x, T, w.cols, ws, 1, act_);
  // Rows of w are split across threads in multiples of 16 so tiles stay whole.
  pool_.parallel_for(w.rows, 16, [&](int64_t o0, int64_t o1, int) { matmul_rows(out, ldo, px, w, o0, o1); });
}

void CpuBackend::matmul(float* out, const float* x, const Tensor& w, int T) { matmul_cols(out, w.rows, x, T, w); }

// One parallel pass over the rows of all the weights, as if they were stacked: one sync instead of n, and
// each thread streams one contiguous share of the bytes.
void CpuBackend::matmul_many(const Projection* p, int n, const float* x, int T) {
  if (n <= 0) return;
  int64_t total = 0;
  many_ws_.resize(size_t(n));
  for (int i = 0; i < n; ++i) {
    total += p[i].w->rows;
    many_ws_[size_t(i)] = p[i].w;
  }
  const PreparedX px = prepare_x(x, T, p[0].w->cols, many_ws_.data(), n, act_);
  pool_.parallel_for(total, 16, [&](int64_t r0, int64_t r1, int) {
    int64_t base = 0;
    for (int i = 0; i < n; ++i) {
      const Tensor& w = *p[i].w;
      const int64_t b = std::max(r0, base), e = std::min(r1, base + w.rows);
      if (b < e) matmul_rows(p[i].out, w.rows, px, w, b - base, e - base);
      base += w.rows;
    }
  });
}

}  // namespace smoe::cpu
