// The Mixtral forward pass, written once over the Backend op table:
//   embed -> per layer [rmsnorm -> GQA attention with RoPE (+KV cache) -> residual ->
//                       rmsnorm -> router top-k -> SwiGLU experts -> residual] -> rmsnorm -> lm_head.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../backend.h"
#include "config.h"
#include "kv_cache.h"
#include "op_profile.h"
#include "weights.h"

namespace smoe {

// One sequence's state: its KV cache and how many positions it holds.
struct Sequence {
  Sequence(Backend& be, const ModelConfig& c) : kv(be, c) {}
  KvCache kv;
  int length = 0;
};

// Router choices of evaluated tokens: [tokens, layers, top_k] expert ids and weights.
struct RouterTrace {
  std::vector<int32_t> experts;
  std::vector<float> weights;
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

 private:
  void forward_chunk(Sequence& seq, const int32_t* ids, int n, bool all_logits, float* logits, RouterTrace* trace,
                     int top_k);
  void ensure_workspace(int tokens);

  ModelConfig cfg_;
  ModelWeights w_;
  std::unique_ptr<Backend> be_;
  std::vector<float> inv_freq_;  // [Hd / 2] RoPE inverse frequencies, computed as transformers does (fp32)
  int ws_tokens_ = 0;
  struct Workspace { float *x, *xn, *q, *att, *o, *router, *moe, *logits; } ws_{};
  std::vector<int32_t> pos_;
  RoutePlan plan_;
  OpProfile prof_;
};

}  // namespace smoe
