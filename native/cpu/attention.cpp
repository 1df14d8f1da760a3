// Causal grouped-query attention over the KV cache, one (token, head) pair per task.
//   q:   [T, H * Hd]      queries of this chunk (RoPE applied), token t at position pos[t]
//   k,v: [P, G * Hd]      the cache (F32, or F16 widened to fp32 row by row), rows 0..pos[T-1] valid;
//                         query head h reads kv head h / (H / G)
//   out: [T, H * Hd]
// Keys visible to position p: max(0, p - window + 1) .. p (all of 0..p when window is 0). Softmax in fp32
// with the running max subtracted.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/dtype.h"
#include "cpu_backend.h"

namespace smoe::cpu {

// Eight partial sums so the compiler can vectorize without reassociating a single sum.
static inline float dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Every half's fp32 value (256 KB, built once): widening a cache row is one load per element.
static const float* half_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = f16_to_f32(uint16_t(h));
    return t;
  }();
  return table.data();
}

// A cache row as fp32: F32 rows are used in place, F16 rows widened into `scratch` [Hd].
static inline const float* kv_row(const float* base, size_t at, int, float*) { return base + at; }
static inline const float* kv_row(const uint16_t* base, size_t at, int n, float* scratch) {
  static const float* table = half_table();
  for (int d = 0; d < n; ++d) scratch[d] = table[base[at + size_t(d)]];
  return scratch;
}

template <class Elem>
static void attend(ThreadPool& pool, float* out, const float* q, const Elem* k, const Elem* v, int T,
                   const int32_t* pos, const AttentionParams& p) {
  const int H = p.heads, G = p.kv_heads, Hd = p.head_dim, group = H / G;
  const size_t qrow = size_t(H) * Hd, kvrow = size_t(G) * Hd;
  pool.parallel_tasks(int64_t(T) * H, [&](int64_t task, int) {
    const int t = int(task / H), h = int(task % H), g = h / group;
    const int P = pos[t];
    const int lo = p.window > 0 ? std::max(0, P - p.window + 1) : 0;
    thread_local std::vector<float> scores, row;
    scores.resize(size_t(P - lo + 1));
    row.resize(size_t(Hd));
    const float* qv = q + size_t(t) * qrow + size_t(h) * Hd;
    float mx = -INFINITY;
    for (int j = lo; j <= P; ++j) {
      const float* kv = kv_row(k, size_t(j) * kvrow + size_t(g) * Hd, Hd, row.data());
      float s = dot(qv, kv, Hd) * p.scale;
      scores[size_t(j - lo)] = s;
      mx = std::max(mx, s);
    }
    float sum = 0.f;
    for (auto& s : scores) { s = std::exp(s - mx); sum += s; }
    const float inv = 1.0f / sum;
    float* o = out + size_t(t) * qrow + size_t(h) * Hd;
    std::fill(o, o + Hd, 0.f);
    for (int j = lo; j <= P; ++j) {
      const float w = scores[size_t(j - lo)] * inv;
      const float* vv = kv_row(v, size_t(j) * kvrow + size_t(g) * Hd, Hd, row.data());
      for (int d = 0; d < Hd; ++d) o[d] += w * vv[d];
    }
  });
}

void CpuBackend::attention(float* out, const float* q, const float* k, const float* v, int T, const int32_t* pos,
                           const AttentionParams& p) {
  attend(pool_, out, q, k, v, T, pos, p);
}

void CpuBackend::attention_f16(float* out, const float* q, const uint16_t* k, const uint16_t* v, int T,
                               const int32_t* pos, const AttentionParams& p) {
  attend(pool_, out, q, k, v, T, pos, p);
}

// dst[n] = half(x[n]), round to nearest even.
void CpuBackend::store_f16(uint16_t* dst, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_f16(x[i]);
}

}  // namespace smoe::cpu
