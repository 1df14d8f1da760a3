// Causal grouped-query attention over the KV cache, one (token, head) pair per task.
//   q:   [T, H * Hd]      queries of this chunk (RoPE applied), token t at position pos[t]
//   k,v: [P, G * Hd]      the cache, rows 0..pos[T-1] valid; query head h reads kv head h / (H / G)
//   out: [T, H * Hd]
// Keys visible to position p: max(0, p - window + 1) .. p (all of 0..p when window is 0). Softmax in fp32
// with the running max subtracted.
#include <algorithm>
#include <cmath>
#include <vector>

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

void CpuBackend::attention(float* out, const float* q, const float* k, const float* v, int T, const int32_t* pos,
                           const AttentionParams& p) {
  const int H = p.heads, G = p.kv_heads, Hd = p.head_dim, group = H / G;
  const size_t qrow = size_t(H) * Hd, kvrow = size_t(G) * Hd;
  pool_.parallel_tasks(int64_t(T) * H, [&](int64_t task, int) {
    const int t = int(task / H), h = int(task % H), g = h / group;
    const int P = pos[t];
    const int lo = p.window > 0 ? std::max(0, P - p.window + 1) : 0;
    thread_local std::vector<float> scores;
    scores.resize(size_t(P - lo + 1));
    const float* qv = q + size_t(t) * qrow + size_t(h) * Hd;
    float mx = -INFINITY;
    for (int j = lo; j <= P; ++j) {
      const float* kv = k + size_t(j) * kvrow + size_t(g) * Hd;
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
      const float* vv = v + size_t(j) * kvrow + size_t(g) * Hd;
      for (int d = 0; d < Hd; ++d) o[d] += w * vv[d];
    }
  });
}

}  // namespace smoe::cpu
