#include "mixtral.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/error.h"

namespace smoe {

static constexpr int kChunk = 256;  // prompt tokens evaluated per pass (bounds the workspace)

Model::Model(const ModelConfig& c, ModelWeights w, std::unique_ptr<Backend> be)
    : cfg_(c), w_(std::move(w)), be_(std::move(be)) {
  // transformers: inv_freq = 1 / theta ** (arange(0, Hd, 2) / Hd), in float32.
  const int half = cfg_.head_dim / 2;
  inv_freq_.resize(size_t(half));
  for (int i = 0; i < half; ++i) {
    const float e = float(2 * i) / float(cfg_.head_dim);
    inv_freq_[size_t(i)] = 1.0f / std::pow(cfg_.rope_theta, e);
  }
}

Model::~Model() {
  for (float* p : {ws_.x, ws_.xn, ws_.q, ws_.att, ws_.o, ws_.router, ws_.moe, ws_.logits})
    if (p) be_->release(p);
}

void Model::ensure_workspace(int tokens) {
  if (tokens <= ws_tokens_) return;
  for (float* p : {ws_.x, ws_.xn, ws_.q, ws_.att, ws_.o, ws_.router, ws_.moe, ws_.logits})
    if (p) be_->release(p);
  ws_ = {};
  ws_tokens_ = 0;
  const size_t T = size_t(tokens), D = size_t(cfg_.hidden), Q = size_t(cfg_.heads) * cfg_.head_dim;
  ws_.x = be_->alloc(T * D);
  ws_.xn = be_->alloc(T * D);
  ws_.q = be_->alloc(T * Q);
  ws_.att = be_->alloc(T * Q);
  ws_.o = be_->alloc(T * D);
  ws_.router = be_->alloc(T * size_t(cfg_.experts));
  ws_.moe = be_->alloc(T * D);
  ws_.logits = be_->alloc(T * size_t(cfg_.vocab));
  ws_tokens_ = tokens;
}

void Model::forward(Sequence& seq, const int32_t* ids, int n, bool all_logits, float* logits, RouterTrace* trace,
                    int top_k) {
  if (n <= 0) throw Error("EMPTY_INPUT", "no tokens to evaluate");
  if (top_k < 0 || top_k > cfg_.experts)
    throw Error("INVALID_OPTION", "experts per token must be in [1, " + std::to_string(cfg_.experts) + "], got " +
                                      std::to_string(top_k));
  if (top_k == 0) top_k = cfg_.top_k;
  for (int i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= cfg_.vocab)
      throw Error("TOKEN_OUT_OF_RANGE", "token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                                            " is outside the vocabulary [0, " + std::to_string(cfg_.vocab) + ")");
  if (seq.length + n > cfg_.max_positions)
    throw Error("CONTEXT_OVERFLOW", "sequence of " + std::to_string(seq.length + n) +
                                        " tokens exceeds max_position_embeddings " + std::to_string(cfg_.max_positions));
  const int start = seq.length;
  const size_t trace_size = trace ? trace->experts.size() : 0;
  try {
    seq.kv.reserve(start + n, start);
    for (int done = 0; done < n;) {
      const int m = std::min(kChunk, n - done);
      const bool last = done + m == n;
      float* out = all_logits ? logits + size_t(done) * cfg_.vocab : (last ? logits : nullptr);
      forward_chunk(seq, ids + done, m, all_logits, out, trace, top_k);
      done += m;
    }
  } catch (...) {
    seq.length = start;  // cache rows past `start` are simply overwritten next time
    if (trace) { trace->experts.resize(trace_size); trace->weights.resize(trace_size); }
    throw;
  }
}

void Model::forward_chunk(Sequence& seq, const int32_t* ids, int m, bool all_logits, float* logits,
                          RouterTrace* trace, int top_k) {
  Backend& be = *be_;
  const ModelConfig& c = cfg_;
  ensure_workspace(m);
  const int D = c.hidden, H = c.heads, G = c.kv_heads, Hd = c.head_dim, E = c.experts, K = top_k;
  const int p0 = seq.length;
  pos_.resize(size_t(m));
  for (int i = 0; i < m; ++i) pos_[size_t(i)] = p0 + i;
  const AttentionParams ap{H, G, Hd, c.sliding_window, 1.0f / std::sqrt(float(Hd))};
  const size_t kv_row = seq.kv.row();

  prof_.time("embed", [&] { be.embed(ws_.x, w_.embed, ids, m); });  // x: [T, D]
  for (int l = 0; l < c.layers; ++l) {
    const LayerWeights& lw = w_.layers[size_t(l)];
    float* kc = seq.kv.k(l);
    float* vc = seq.kv.v(l);
    float* k_new = kc + size_t(p0) * kv_row;  // this chunk's rows of the cache
    float* v_new = vc + size_t(p0) * kv_row;
    // Attention block. K and V are written straight into the cache rows of these positions.
    prof_.time("norm", [&] { be.rmsnorm(ws_.xn, ws_.x, lw.attn_norm, m, D, c.rms_eps); });
    prof_.time("qkv", [&] {
      const Backend::Projection qkv[3] = {{ws_.q, &lw.wq},   // [T, H*Hd]
                                          {k_new, &lw.wk},   // [T, G*Hd]
                                          {v_new, &lw.wv}};  // [T, G*Hd]
      be.matmul_many(qkv, 3, ws_.xn, m);
    });
    prof_.time("rope", [&] {
      be.rope(ws_.q, m, H, Hd, pos_.data(), inv_freq_.data(), c.rope_pairs);
      be.rope(k_new, m, G, Hd, pos_.data(), inv_freq_.data(), c.rope_pairs);
    });
    prof_.time("attention", [&] { be.attention(ws_.att, ws_.q, kc, vc, m, pos_.data(), ap); });  // [T, H*Hd]
    prof_.time("o_proj", [&] { be.matmul(ws_.o, ws_.att, lw.wo, m); });                          // [T, D]
    prof_.time("add", [&] { be.add(ws_.x, ws_.o, size_t(m) * D); });
    // Sparse MoE block.
    prof_.time("norm", [&] { be.rmsnorm(ws_.xn, ws_.x, lw.ffn_norm, m, D, c.rms_eps); });
    prof_.time("router", [&] {
      be.matmul(ws_.router, ws_.xn, lw.gate, m);  // [T, E]
      be.gate_topk(ws_.router, m, E, K, plan_);
    });
    prof_.time("experts", [&] { be.moe_experts(ws_.moe, ws_.xn, m, D, plan_, lw.experts); });  // [T, D]
    prof_.time("add", [&] { be.add(ws_.x, ws_.moe, size_t(m) * D); });
    if (trace) {  // trace layout [token, layer, K]; the chunk's rows are appended at layer 0
      be.plan_to_host(plan_);  // the plan may live in device memory (CUDA); a no-op on the CPU
      if (l == 0) {
        trace->experts.resize(trace->experts.size() + size_t(m) * c.layers * K);
        trace->weights.resize(trace->weights.size() + size_t(m) * c.layers * K);
      }
      const size_t first = trace->experts.size() - size_t(m) * c.layers * K;
      for (int t = 0; t < m; ++t)
        for (int j = 0; j < K; ++j) {
          const size_t dst = first + (size_t(t) * c.layers + l) * K + j, src = size_t(t) * K + j;
          trace->experts[dst] = plan_.expert_ids[src];
          trace->weights[dst] = plan_.weights[src];
        }
    }
  }
  if (logits) {
    const int rows = all_logits ? m : 1;
    const float* xs = ws_.x + size_t(m - rows) * D;
    prof_.time("norm", [&] { be.rmsnorm(ws_.xn, xs, w_.norm, rows, D, c.rms_eps); });
    prof_.time("lm_head", [&] { be.matmul(ws_.logits, ws_.xn, w_.lm_head, rows); });  // [rows, V]
    be.download(logits, ws_.logits, size_t(rows) * c.vocab);
  }
  seq.length = p0 + m;
}

}  // namespace smoe
