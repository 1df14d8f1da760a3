// The SwiGLU experts of one MoE layer, all chosen experts in one parallel region. For each expert e with
// tokens routed to it (its group of the plan, n_e tokens):
//   Xe = x[tokens of e]                       [n_e, D]   gathered
//   A  = silu(Xe @ w1^T) * (Xe @ w3^T)        [n_e, I]   phase 1
//   Y  = A @ w2^T                             [n_e, D]   phase 2
//   out[token] += weight(token, e) * Y[row]   (experts in ascending id, out starting at 0)
// Phase 1 splits the rows of every active expert's w1/w3, as if stacked, evenly across the threads (by
// cost: n_e + 2 per row, a row's bytes counting like two tokens of FMAs); each thread computes the w1 and
// w3 rows of its share and their SwiGLU. One barrier. Phase 2 gives each thread a range of output columns
// d: it runs its rows of every active w2 and adds them into out[:, d0..d1), which no other thread touches.
// Each expert's weights are read once per call however many tokens it serves, and a decode step (T = 1,
// K experts) costs one fork and join instead of two per expert.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu_backend.h"

namespace smoe::cpu {

namespace {

constexpr int64_t kRowGrain = 16;  // row ranges are whole multiples of this, so tiles stay whole

// Thread w's share [b, e) of a range of `n` rows in multiples of kRowGrain (the last share takes the tail).
inline void split_rows(int64_t n, int w, int threads, int64_t& b, int64_t& e) {
  const int64_t units = (n + kRowGrain - 1) / kRowGrain;
  b = std::min(n, units * w / threads * kRowGrain);
  e = std::min(n, units * (w + 1) / threads * kRowGrain);
}

}  // namespace

void CpuBackend::moe_experts(float* out, const float* x, int T, int D, const RoutePlan& plan,
                             const std::vector<ExpertWeights>& experts) {
  const int K = plan.top_k;
  // The active groups, in ascending expert id, with their scratch offsets.
  groups_.clear();
  size_t rows = 0, hidden = 0;
  double cost = 0;
  for (int e = 0; e < plan.experts; ++e) {
    const int b = plan.offsets[size_t(e)], n = plan.offsets[size_t(e) + 1] - b;
    if (n == 0) continue;
    const int64_t I = experts[size_t(e)].w1.rows;
    groups_.push_back({e, b, n, I, rows, hidden, cost});
    rows += size_t(n);
    hidden += size_t(n) * size_t(I);
    cost += double(I) * (n + 2);
  }
  gathered_.resize(rows * size_t(D));
  hidden_.resize(2 * hidden);
  expert_out_.resize(rows * size_t(D));
  for (const Group& g : groups_)
    for (int r = 0; r < g.n; ++r)
      std::memcpy(&gathered_[(g.row + size_t(r)) * D], x + size_t(plan.slots[size_t(g.begin + r)] / K) * D,
                  sizeof(float) * size_t(D));
  MatmulFn mm = mm_;
  const int threads = pool_.size();
  pool_.run([&](int w) {
    // Phase 1: this thread's share of the stacked w1/w3 rows, by cost.
    const double c0 = cost * w / threads, c1 = cost * (w + 1) / threads;
    for (const Group& g : groups_) {
      const double per_row = double(g.n + 2), gend = g.cost + double(g.I) * per_row;
      if (gend <= c0 || g.cost >= c1) continue;
      auto row_at = [&](double c) {  // first row whose cost starts at or after c, rounded to the grain
        if (c <= g.cost) return int64_t(0);
        if (c >= gend) return g.I;
        const int64_t r = int64_t(std::ceil((c - g.cost) / per_row));
        return std::min(g.I, (r + kRowGrain / 2) / kRowGrain * kRowGrain);
      };
      const int64_t r0 = row_at(c0), r1 = row_at(c1);
      if (r0 >= r1) continue;
      const ExpertWeights& ew = experts[size_t(g.expert)];
      const float* xg = &gathered_[g.row * D];
      float* h1 = &hidden_[2 * g.hidden];
      float* h3 = h1 + size_t(g.n) * g.I;
      mm(h1, g.I, xg, g.n, D, ew.w1.data, ew.w1.dtype, r0, r1);
      mm(h3, g.I, xg, g.n, D, ew.w3.data, ew.w3.dtype, r0, r1);
      for (int r = 0; r < g.n; ++r)
        for (int64_t i = r0; i < r1; ++i) {
          const float a = h1[size_t(r) * g.I + i];
          h1[size_t(r) * g.I + i] = a / (1.0f + std::exp(-a)) * h3[size_t(r) * g.I + i];
        }
    }
    pool_.barrier();
    // Phase 2: output columns [d0, d1) of every token, from every active expert's w2.
    int64_t d0, d1;
    split_rows(D, w, threads, d0, d1);
    if (d0 >= d1) return;
    for (int t = 0; t < T; ++t) std::memset(out + size_t(t) * D + d0, 0, sizeof(float) * size_t(d1 - d0));
    for (const Group& g : groups_) {
      const ExpertWeights& ew = experts[size_t(g.expert)];
      float* y = &expert_out_[g.row * D];
      mm(y, D, &hidden_[2 * g.hidden], g.n, g.I, ew.w2.data, ew.w2.dtype, d0, d1);
      for (int r = 0; r < g.n; ++r) {
        const int slot = plan.slots[size_t(g.begin + r)];
        const float wt = plan.weights[size_t(slot)];
        float* o = out + size_t(slot / K) * D;
        const float* yr = y + size_t(r) * D;
        for (int64_t d = d0; d < d1; ++d) o[d] += wt * yr[d];
      }
    }
  });
}

}  // namespace smoe::cpu
