// The router: logits [T, E] -> softmax over all E (fp32) -> top-K by probability (ties: the lower expert id,
// as torch.topk) -> renormalize the K weights to sum to 1 -> the routing plan (tokens grouped by expert).
#include <cmath>

#include "cpu_backend.h"

namespace smoe::cpu {

void CpuBackend::gate_topk(const float* logits, int T, int E, int K, RoutePlan& plan) {
  plan.tokens = T; plan.experts = E; plan.top_k = K;
  plan.expert_ids.resize(size_t(T) * K);
  plan.weights.resize(size_t(T) * K);
  std::vector<float> prob(static_cast<size_t>(E));
  std::vector<char> taken(static_cast<size_t>(E));
  for (int t = 0; t < T; ++t) {
    const float* l = logits + size_t(t) * E;
    float mx = l[0];
    for (int e = 1; e < E; ++e) mx = std::max(mx, l[e]);
    float sum = 0.f;
    for (int e = 0; e < E; ++e) { prob[size_t(e)] = std::exp(l[e] - mx); sum += prob[size_t(e)]; }
    for (int e = 0; e < E; ++e) prob[size_t(e)] /= sum;
    std::fill(taken.begin(), taken.end(), 0);
    float chosen = 0.f;
    for (int j = 0; j < K; ++j) {
      int best = -1;
      for (int e = 0; e < E; ++e)
        if (!taken[size_t(e)] && (best < 0 || prob[size_t(e)] > prob[size_t(best)])) best = e;
      taken[size_t(best)] = 1;
      plan.expert_ids[size_t(t) * K + j] = best;
      plan.weights[size_t(t) * K + j] = prob[size_t(best)];
      chosen += prob[size_t(best)];
    }
    for (int j = 0; j < K; ++j) plan.weights[size_t(t) * K + j] /= chosen;
  }
  // Group (token, j) slots by expert, tokens ascending within a group.
  plan.offsets.assign(size_t(E) + 1, 0);
  for (int32_t e : plan.expert_ids) ++plan.offsets[size_t(e) + 1];
  for (int e = 0; e < E; ++e) plan.offsets[size_t(e) + 1] += plan.offsets[size_t(e)];
  plan.slots.resize(size_t(T) * K);
  std::vector<int32_t> fill(plan.offsets.begin(), plan.offsets.end() - 1);
  for (int s = 0; s < T * K; ++s) plan.slots[size_t(fill[size_t(plan.expert_ids[size_t(s)])]++)] = s;
}

}  // namespace smoe::cpu
