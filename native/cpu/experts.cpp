// The SwiGLU experts, grouped: for each expert e with tokens routed to it (its group of the plan):
//   Xe = x[tokens of e]                       [n_e, D]   gathered
//   A  = silu(Xe @ w1^T) * (Xe @ w3^T)        [n_e, I]   w1 and w3 rows computed in the same pass
//   Y  = A @ w2^T                             [n_e, D]
//   out[token] += weight(token, e) * Y[row]
// Each expert's weights are read once per call however many tokens it serves (the CPU grouped GEMM).
#include <cmath>
#include <cstring>

#include "cpu_backend.h"

namespace smoe::cpu {

void CpuBackend::moe_experts(float* out, const float* x, int T, int D, const RoutePlan& plan,
                             const std::vector<ExpertWeights>& experts) {
  std::memset(out, 0, sizeof(float) * size_t(T) * D);
  const int K = plan.top_k;
  for (int e = 0; e < plan.experts; ++e) {
    const int b = plan.offsets[size_t(e)], n = plan.offsets[size_t(e) + 1] - b;
    if (n == 0) continue;
    const ExpertWeights& ew = experts[size_t(e)];
    const int64_t I = ew.w1.rows;
    gathered_.resize(size_t(n) * D);
    hidden_.resize(size_t(n) * 2 * I);
    expert_out_.resize(size_t(n) * D);
    for (int r = 0; r < n; ++r)
      std::memcpy(&gathered_[size_t(r) * D], x + size_t(plan.slots[size_t(b + r)] / K) * D, sizeof(float) * D);
    float* h1 = hidden_.data();
    float* h3 = h1 + size_t(n) * I;
    const Tensor* w13[2] = {&ew.w1, &ew.w3};
    const PreparedX xg = prepare_x(gathered_.data(), n, D, w13, 2, act_experts_);
    pool_.parallel_for(I, 16, [&](int64_t o0, int64_t o1, int) {
      matmul_rows(h1, I, xg, ew.w1, o0, o1);
      matmul_rows(h3, I, xg, ew.w3, o0, o1);
      for (int r = 0; r < n; ++r)
        for (int64_t i = o0; i < o1; ++i) {
          const float g = h1[size_t(r) * I + i];
          h1[size_t(r) * I + i] = g / (1.0f + std::exp(-g)) * h3[size_t(r) * I + i];
        }
    });
    matmul_cols(expert_out_.data(), D, h1, n, ew.w2);
    for (int r = 0; r < n; ++r) {
      const int slot = plan.slots[size_t(b + r)];
      const float w = plan.weights[size_t(slot)];
      float* o = out + size_t(slot / K) * D;
      const float* y = &expert_out_[size_t(r) * D];
      for (int d = 0; d < D; ++d) o[d] += w * y[d];
    }
  }
}

}  // namespace smoe::cpu
