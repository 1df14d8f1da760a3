// The SwiGLU experts of one MoE layer, all chosen experts in one parallel region. For each expert e with
// tokens routed to it (its group of the plan, n_e tokens):
//   Xe = x[tokens of e]                       [n_e, D]   gathered                          phase 0
//   A  = silu(Xe @ w1^T) * (Xe @ w3^T)        [n_e, I]                                     phase 1
//   Y  = A @ w2^T                             [n_e, D]                                     phase 2
//   out[token] += weight(token, e) * Y[row]   (experts in ascending id, out starting at 0)
// Any weight dtype: CpuBackend::matmul_rows picks the kernel (quant_matmul.h for ggml types), and the rows
// a quantized weight reads are quantized once, in the region: Xe in phase 0, A in phase 1b.
// Phase 0 splits the gathered rows across the threads. Phase 1 splits the rows of every active expert's
// w1/w3, as if stacked, evenly across the threads by cost (n_e + 2 per row: a row's bytes count like two
// tokens of FMAs); each thread computes the w1 and w3 rows of its share and their SwiGLU. Phase 2 gives
// each thread a range of output columns d: it runs its rows of every active w2 and adds them into
// out[:, d0..d1), which no other thread touches. Barriers (spinning) separate the phases. Each expert's
// weights are read once per call however many tokens it serves, and a decode step (T = 1, K experts)
// costs one fork and join instead of two per expert.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu_backend.h"
#include "silu.h"

namespace smoe::cpu {

namespace {

constexpr int64_t kRowGrain = 16;  // row ranges are whole multiples of this, so tiles stay whole

// Thread w's share [b, e) of `n` rows in multiples of `grain` (the last share takes the tail).
inline void split_rows(int64_t n, int64_t grain, int w, int threads, int64_t& b, int64_t& e) {
  const int64_t units = (n + grain - 1) / grain;
  b = std::min(n, units * w / threads * grain);
  e = std::min(n, units * (w + 1) / threads * grain);
}

}  // namespace

void CpuBackend::moe_experts(float* out, const float* x, int T, int D, const RoutePlan& plan,
                             const std::vector<ExpertWeights>& experts) {
  const int K = plan.top_k;
  // The active groups, in ascending expert id, with their scratch offsets, and the activation formats
  // their weights read (F32 needs none).
  bool need13[kActFormats] = {}, need2[kActFormats] = {};
  for (int e = 0; e < plan.experts; ++e) {
    if (plan.offsets[size_t(e) + 1] == plan.offsets[size_t(e)]) continue;
    const ExpertWeights& ew = experts[size_t(e)];
    need13[int(act_format(ew.w1.dtype))] = need13[int(act_format(ew.w3.dtype))] = true;
    need2[int(act_format(ew.w2.dtype))] = true;
  }
  groups_.clear();
  size_t rows = 0, hidden = 0, hq[kActFormats] = {};
  double cost = 0;
  for (int e = 0; e < plan.experts; ++e) {
    const int b = plan.offsets[size_t(e)], n = plan.offsets[size_t(e) + 1] - b;
    if (n == 0) continue;
    const int64_t I = experts[size_t(e)].w1.rows;
    Group g{e, b, n, I, rows, hidden, {}, cost};
    for (int f = 1; f < kActFormats; ++f) {
      g.hq[f] = hq[f];
      if (need2[f]) hq[f] += size_t(n) * act_row_bytes(ActFormat(f), I);
    }
    groups_.push_back(g);
    rows += size_t(n);
    hidden += size_t(n) * size_t(I);
    cost += double(I) * (n + 2);
  }
  bool quant2 = false;
  for (int f = 1; f < kActFormats; ++f) {
    if (need13[f]) act_gathered_.buf[f].resize(rows * act_row_bytes(ActFormat(f), D));
    if (need2[f]) { act_hidden_.buf[f].resize(hq[f]); quant2 = true; }
  }
  gathered_.resize(rows * size_t(D));
  hidden_.resize(2 * hidden);
  expert_out_.resize(rows * size_t(D));
  const int threads = pool_.size();
  auto xg_of = [&](const Group& g) {  // Xe in every format w1 / w3 read
    PreparedX p;
    p.f32 = &gathered_[g.row * D];
    p.T = g.n;
    p.K = D;
    for (int f = 1; f < kActFormats; ++f)
      if (need13[f]) p.q[f] = act_gathered_.buf[f].data() + g.row * act_row_bytes(ActFormat(f), D);
    return p;
  };
  auto a_of = [&](const Group& g) {  // A in every format w2 reads
    PreparedX p;
    p.f32 = &hidden_[2 * g.hidden];
    p.T = g.n;
    p.K = g.I;
    for (int f = 1; f < kActFormats; ++f)
      if (need2[f]) p.q[f] = act_hidden_.buf[f].data() + g.hq[f];
    return p;
  };
  pool_.run([&](int w) {
    // Phase 0: this thread's share of the gathered rows, quantized for w1 / w3 where they need it.
    int64_t s0, s1;
    split_rows(int64_t(rows), 1, w, threads, s0, s1);
    for (const Group& g : groups_)
      for (int r = 0; r < g.n; ++r) {
        const int64_t row = int64_t(g.row) + r;
        if (row < s0 || row >= s1) continue;
        std::memcpy(&gathered_[size_t(row) * D], x + size_t(plan.slots[size_t(g.begin + r)] / K) * D,
                    sizeof(float) * size_t(D));
        for (int f = 1; f < kActFormats; ++f)
          if (need13[f]) quantize_act_rows(ActFormat(f), gathered_.data(), D, row, row + 1, act_gathered_.buf[f].data());
      }
    pool_.barrier();
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
      const PreparedX xg = xg_of(g);
      float* h1 = &hidden_[2 * g.hidden];
      float* h3 = h1 + size_t(g.n) * g.I;
      matmul_rows(h1, g.I, xg, ew.w1, r0, r1);
      matmul_rows(h3, g.I, xg, ew.w3, r0, r1);
      for (int r = 0; r < g.n; ++r) silu_mul(h1 + size_t(r) * g.I + r0, h3 + size_t(r) * g.I + r0, r1 - r0);
    }
    pool_.barrier();
    // Phase 1b: A quantized for a quantized w2 (its rows split across the threads like the gathered rows).
    if (quant2) {
      for (const Group& g : groups_)
        for (int r = 0; r < g.n; ++r) {
          const int64_t row = int64_t(g.row) + r;
          if (row < s0 || row >= s1) continue;
          for (int f = 1; f < kActFormats; ++f)
            if (need2[f])
              quantize_act_rows(ActFormat(f), &hidden_[2 * g.hidden], g.I, r, r + 1, act_hidden_.buf[f].data() + g.hq[f]);
        }
      pool_.barrier();
    }
    // Phase 2: output columns [d0, d1) of every token, from every active expert's w2.
    int64_t d0, d1;
    split_rows(D, kRowGrain, w, threads, d0, d1);
    if (d0 >= d1) return;
    for (int t = 0; t < T; ++t) std::memset(out + size_t(t) * D + d0, 0, sizeof(float) * size_t(d1 - d0));
    for (const Group& g : groups_) {
      const ExpertWeights& ew = experts[size_t(g.expert)];
      float* y = &expert_out_[g.row * D];
      matmul_rows(y, D, a_of(g), ew.w2, d0, d1);
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
