// The Mixtral forward pass, written once over the Backend op table:
//   embed -> per layer [rmsnorm -> GQA attention with RoPE (+KV cache) -> residual ->
//                       rmsnorm -> router top-k -> SwiGLU experts -> residual] -> rmsnorm -> lm_head.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "../backend.h"
#include "config.h"
#include "kv_cache.h"
#include "op_profile.h"
#include "weights.h"

namespace smoe {

// One sequence's state: its KV cache and how many positions it holds. `capacity` > 0 fixes the cache at
// that many positions, allocated now (see KvCache).
struct Sequence {
  Sequence(Backend& be, const ModelConfig& c, DType kv_dtype = DType::F32, int capacity = 0)
      : kv(be, c, kv_dtype, capacity) {}
  KvCache kv;
  int length = 0;
};

// Router choices of evaluated tokens: [tokens, layers, top_k] expert ids and weights.
struct RouterTrace {
  std::vector<int32_t> experts;
  std::vector<float> weights;
};

// One sequence's part of a batched step: ids[0..n) appended to `seq`. `logits` receives the last
// position's logits (V floats), or every position's (n * V) when all_logits; null for none (a prompt chunk
// that is not the last). Router choices are appended to `trace` when it is set.
struct BatchItem {
  Sequence* seq = nullptr;
  const int32_t* ids = nullptr;
  int n = 0;
  bool all_logits = false;
  float* logits = nullptr;
  RouterTrace* trace = nullptr;
};

class Model {
 public:
  Model(const ModelConfig& c, ModelWeights w, std::unique_ptr<Backend> be);
  ~Model();

  const ModelConfig& config() const { return cfg_; }
  Backend& backend() { return *be_; }

  // Appends ids[0..n) to `seq` and evaluates them. Writes the last position's logits (V floats) to
  // `logits`, or every position's (n * V floats) when all_logits. Appends router choices to `trace`.
  // top_k > 0 routes each token to that many experts instead of the config's (the weights are still the
  // softmax of the chosen, renormalized). On error the sequence is left as it was before the call.
  void forward(Sequence& seq, const int32_t* ids, int n, bool all_logits, float* logits, RouterTrace* trace,
               int top_k = 0);

  // Continuous batching: one forward pass over every item's tokens (the next token of each decoding
  // sequence, a chunk of a new prompt), each at its own positions through its own KV cache. Attention runs
  // per sequence; the router and experts run once over the whole batch, so each expert's weights are read
  // once per step however many sequences chose it. Items must name distinct sequences. On error every
  // sequence is left as it was before the call.
  void step(const BatchItem* items, int count, int top_k = 0);

  // Tokens routed to each expert, [layers * experts], counted while counting is on (off by default: on
  // CUDA it costs a copy of each layer's plan to the host).
  void count_experts(bool on) { counting_ = on; }
  std::vector<uint64_t> expert_counts() const;

 private:
  void check_item(const BatchItem& it) const;
  void step_chunk(const BatchItem* items, int count, int top_k);
  void ensure_workspace(int tokens);

  ModelConfig cfg_;
  ModelWeights w_;
  std::unique_ptr<Backend> be_;
  std::vector<float> inv_freq_;  // [Hd / 2] RoPE inverse frequencies, computed as transformers does (fp32)
  int ws_tokens_ = 0;
  struct Workspace { float *x, *xn, *q, *k, *v, *att, *o, *router, *moe, *logits; } ws_{};
  std::vector<int32_t> pos_;
  std::vector<int> out_rows_;  // batch rows whose logits are computed, in item order
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // [layers * experts]
  std::atomic<bool> counting_{false};
  RoutePlan plan_;
  OpProfile prof_;
};

}  // namespace smoe
