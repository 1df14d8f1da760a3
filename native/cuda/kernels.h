// Host-side launchers of the CUDA kernels (one .cu per kernel family). Every pointer is device memory unless
// named host_*. Each launcher checks its launch and throws smoe::Error{CUDA_ERROR} naming the kernel.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../backend.h"
#include "cuda_types.h"

namespace smoe::cuda {

constexpr int kMaxExperts = 128;  // the expert pointer tables travel as kernel parameters
constexpr int kMaxTopK = 8;

// embed.cu
void launch_embed(float* out, const Tensor& table, const int32_t* ids, int T, cudaStream_t s);
void launch_add(float* x, const float* y, size_t n, cudaStream_t s);

// norm_rope.cu
void launch_rmsnorm(float* out, const float* x, const Tensor& w, int T, int D, float eps, cudaStream_t s);
void launch_rope(float* x, int T, int heads, int head_dim, const int32_t* pos, const float* inv_freq, bool pairs,
                 cudaStream_t s);

// matmul.cu: out[T, ldo] (columns 0..w.rows) = x[T, w.cols] @ w^T.
void launch_matmul(float* out, size_t ldo, const float* x, const Tensor& w, int T, Precision p, cudaStream_t s);

// gating.cu: logits [T, E] -> plan (softmax, top-K with ties to the lower id, renormalize, group by expert).
void launch_gate_topk(const float* logits, int T, int E, int K, const DevicePlan& plan, cudaStream_t s);

// grouped_gemm.cu: out[T, D] = the MoE block for x [T, D] under `plan`. `hidden` is scratch of
// [T*K, I] floats and `partial` of [T*K, D] floats.
void launch_moe_experts(float* out, const float* x, int T, int D, int I, const DevicePlan& plan,
                        const std::vector<ExpertWeights>& experts, float* hidden, float* partial, Precision p,
                        cudaStream_t s);

// attention.cu. `partial` is scratch of attention_partial_floats(...) floats (used by split-KV decode).
struct AttentionLaunch {
  float* out;
  const float* q;
  const float* k;
  const float* v;
  const int32_t* pos;  // device [T]
  int T;
  AttentionParams p;
};
// How many key-range splits to use for T queries over `keys` keys on a GPU of `sms` multiprocessors.
int attention_splits(int T, int heads, int kv_heads, int keys, int sms);
size_t attention_partial_floats(int T, int heads, int head_dim, int splits);
void launch_attention(const AttentionLaunch& a, int splits, float* partial, cudaStream_t s);

}  // namespace smoe::cuda
