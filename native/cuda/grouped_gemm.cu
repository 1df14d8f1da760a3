// The MoE experts as one grouped GEMM per projection, over every active expert in a single launch:
//   1. gate/up : hidden[pos, :] = silu(x[tok] @ W1_e^T) * (x[tok] @ W3_e^T)   for pos in expert e's group,
//                tok = slots[pos] / top_k (rows gathered from x, no copy); both projections in the same pass,
//                SwiGLU fused into the epilogue. hidden: [T*top_k, I] in grouped (expert) order.
//   2. down    : partial[slot, :] = route_w[slot] * (hidden[pos] @ W2_e^T),  slot = slots[pos]: the routing
//                weight applied in the epilogue and the row scattered back to token order (slot = t*top_k + j).
//   3. combine : out[t, :] = sum over j of partial[t*top_k + j, :], added in ascending expert id: the order of
//                the CPU backend, deterministic and without atomics.
// Blocks find their (expert, row tile) from the plan's offsets on the device: no per-expert host loop, no
// capacity padding. Decode (T <= 16) uses the GEMV kernel, one block column per expert, each weight read once.
#include <string>

#include "cuda_check.h"
#include "gemm_core.cuh"

namespace smoe::cuda {
namespace {

// moe_combine_kernel: out[t, d] = sum_j partial[(t*K + j), d] over j ordered by ids[t*K + j] ascending.
//   partial: [T*K, D]; ids: [T*K]; out: [T, D]. Grid-stride, one thread per (t, d).
__global__ void moe_combine_kernel(float* __restrict__ out, const float* __restrict__ partial,
                                   const int32_t* __restrict__ ids, int T, int K, int D) {
  const size_t n = size_t(T) * D;
  for (size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += size_t(gridDim.x) * blockDim.x) {
    const int t = int(idx / D);
    const size_t d = idx % D;
    const int32_t* id = ids + size_t(t) * K;
    float s = 0.f;
    int prev = -1;
    for (int step = 0; step < K; ++step) {  // the next larger expert id (ids of one token are distinct)
      int best = -1;
      for (int j = 0; j < K; ++j)
        if (id[j] > prev && (best < 0 || id[j] < id[best])) best = j;
      if (best < 0) break;
      prev = id[best];
      s += partial[(size_t(t) * K + best) * D + d];
    }
    out[idx] = s;
  }
}

}  // namespace

void launch_moe_experts(float* out, const float* x, int T, int D, int I, const DevicePlan& plan,
                        const std::vector<ExpertWeights>& experts, float* hidden, float* partial, Precision prec,
                        cudaStream_t s) {
  if (T <= 0) return;
  const int E = plan.experts, K = plan.top_k;
  if (E > kMaxExperts) throw Error("UNSUPPORTED", "the CUDA backend supports at most " + std::to_string(kMaxExperts) + " experts");
  if (size_t(E) != experts.size()) throw Error("INTERNAL", "moe_experts: plan and expert list disagree");
  const DType wt13 = experts[0].w1.dtype, wt2 = experts[0].w2.dtype;
  for (const ExpertWeights& ew : experts)
    if (ew.w1.dtype != wt13 || ew.w3.dtype != wt13 || ew.w2.dtype != wt2 || ew.w1.rows != I || ew.w3.rows != I ||
        ew.w1.cols != D || ew.w3.cols != D || ew.w2.rows != D || ew.w2.cols != I)
      throw Error("UNSUPPORTED", "moe_experts: the CUDA backend needs every expert in one dtype and shape");

  GemmParams up{};
  up.a = x;
  up.out = hidden;
  up.ldo = size_t(I);
  up.K = D;
  up.N = I;
  up.groups = E;
  up.offsets = plan.offsets;
  up.slots = plan.slots;
  up.top_k = K;
  bool vec = D % 8 == 0 && aligned16(x);
  for (int e = 0; e < E; ++e) {
    up.w1[e] = experts[size_t(e)].w1.data;
    up.w3[e] = experts[size_t(e)].w3.data;
    vec = vec && aligned16(up.w1[e]) && aligned16(up.w3[e]);
  }
  up.vec = vec ? 1 : 0;
  launch_gemm<kGateUp>(up, wt13, T, T * K, prec, s, "moe gate/up (grouped gemv/simt/mma gemm kernel)");

  GemmParams down{};
  down.a = hidden;
  down.out = partial;
  down.ldo = size_t(D);
  down.K = I;
  down.N = D;
  down.groups = E;
  down.offsets = plan.offsets;
  down.slots = plan.slots;
  down.route_w = plan.weights;
  down.top_k = K;
  vec = I % 8 == 0 && aligned16(hidden);
  for (int e = 0; e < E; ++e) {
    down.w1[e] = experts[size_t(e)].w2.data;
    vec = vec && aligned16(down.w1[e]);
  }
  down.vec = vec ? 1 : 0;
  launch_gemm<kDown>(down, wt2, T, T * K, prec, s, "moe down (grouped gemv/simt/mma gemm kernel)");

  const size_t n = size_t(T) * D;
  SMOE_LAUNCH(unsigned(std::min<size_t>(ceil_div(n, 256), 8192)), 256, 0, s, moe_combine_kernel)(out, partial, plan.ids, T, K, D);
  check_launch("moe_combine_kernel", s);
}

}  // namespace smoe::cuda
