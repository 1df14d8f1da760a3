// The router on the device, in one launch: logits [T, E] -> softmax over E (fp32) -> top-K by probability
// (ties: the lower expert id, as torch.topk and the CPU backend) -> renormalize the K weights to sum to 1 ->
// the routing plan: per-expert counts, offsets (exclusive scan) and the token permutation `slots`
// (slot = t*K + j grouped by expert, ascending within a group, exactly the CPU backend's order).
#include <string>

#include "common.cuh"
#include "cuda_check.h"
#include "kernels.h"

namespace smoe::cuda {
namespace {

constexpr int kGateThreads = 1024;
constexpr int kMaskWords = (kMaxExperts + 31) / 32;

// gate_topk_kernel: a single block of 1024 threads.
//   logits: [T, E] fp32. Outputs: ids, weights [T*K]; offsets [E+1]; slots [T*K].
//   Phase 1, a thread per token (strided): max, the sum of exp in expert order, then K selection passes over
//            p_e = exp(l_e - max) / sum with a strict '>' (so ties keep the lower id), weights renormalized.
//   Phase 2, a warp per expert (strided): counts via ballot over the T*K choices.
//   Phase 3, thread 0: exclusive scan of the counts into offsets.
//   Phase 4, a warp per expert: slots filled in ascending slot order (ballot + popc ranks within each 32).
//   The phases exchange data through global memory, made visible across the block by __syncthreads.
__global__ void __launch_bounds__(kGateThreads) gate_topk_kernel(const float* __restrict__ logits, int T, int E, int K,
                                                                 int32_t* ids, float* weights, int32_t* offsets,
                                                                 int32_t* slots) {
  __shared__ int counts[kMaxExperts];
  __shared__ int starts[kMaxExperts + 1];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, warps = blockDim.x >> 5;
  for (int t = tid; t < T; t += blockDim.x) {
    const float* l = logits + size_t(t) * E;
    float mx = l[0];
    for (int e = 1; e < E; ++e) mx = fmaxf(mx, l[e]);
    float sum = 0.f;
    for (int e = 0; e < E; ++e) sum += expf(l[e] - mx);
    uint32_t taken[kMaskWords];
    for (int i = 0; i < kMaskWords; ++i) taken[i] = 0u;
    float chosen = 0.f;
    for (int j = 0; j < K; ++j) {
      int best = -1;
      float bp = 0.f;
      for (int e = 0; e < E; ++e) {
        if (taken[e >> 5] & (1u << (e & 31))) continue;
        const float pe = expf(l[e] - mx) / sum;
        if (best < 0 || pe > bp) { best = e; bp = pe; }
      }
      taken[best >> 5] |= 1u << (best & 31);
      ids[size_t(t) * K + j] = best;
      weights[size_t(t) * K + j] = bp;
      chosen += bp;
    }
    for (int j = 0; j < K; ++j) weights[size_t(t) * K + j] /= chosen;
  }
  __syncthreads();
  const int n = T * K;
  for (int e = warp; e < E; e += warps) {
    int c = 0;
    for (int base = 0; base < n; base += 32) {
      const int s = base + lane;
      c += __popc(__ballot_sync(kFullMask, s < n && ids[s] == e));
    }
    if (lane == 0) counts[e] = c;
  }
  __syncthreads();
  if (tid == 0) {
    int acc = 0;
    for (int e = 0; e < E; ++e) { starts[e] = acc; offsets[e] = acc; acc += counts[e]; }
    starts[E] = acc;
    offsets[E] = acc;
  }
  __syncthreads();
  for (int e = warp; e < E; e += warps) {
    int fill = starts[e];
    for (int base = 0; base < n; base += 32) {
      const int s = base + lane;
      const bool mine = s < n && ids[s] == e;
      const unsigned b = __ballot_sync(kFullMask, mine);
      if (mine) slots[fill + __popc(b & ((1u << lane) - 1u))] = s;
      fill += __popc(b);
    }
  }
}

}  // namespace

void launch_gate_topk(const float* logits, int T, int E, int K, const DevicePlan& plan, cudaStream_t s) {
  if (E < 1 || E > kMaxExperts)
    throw Error("UNSUPPORTED", "the CUDA router supports 1.." + std::to_string(kMaxExperts) + " experts (got " + std::to_string(E) + ")");
  if (K < 1 || K > E || K > kMaxTopK)
    throw Error("UNSUPPORTED", "the CUDA router supports top-k 1.." + std::to_string(kMaxTopK) + " (got " + std::to_string(K) + ")");
  if (T <= 0) return;
  SMOE_LAUNCH(1, kGateThreads, 0, s, gate_topk_kernel)(logits, T, E, K, plan.ids, plan.weights, plan.offsets, plan.slots);
  check_launch("gate_topk_kernel", s);
}

}  // namespace smoe::cuda
