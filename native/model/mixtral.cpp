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
  const size_t n = size_t(cfg_.layers) * size_t(cfg_.experts);
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(n);
  for (size_t i = 0; i < n; ++i) counts_[i] = 0;
}

Model::~Model() {
  for (float* p : {ws_.x, ws_.xn, ws_.q, ws_.k, ws_.v, ws_.att, ws_.o, ws_.router, ws_.moe, ws_.logits})
    if (p) be_->release(p);
}

std::vector<uint64_t> Model::expert_counts() const {
  std::vector<uint64_t> out(size_t(cfg_.layers) * size_t(cfg_.experts));
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

void Model::ensure_workspace(int tokens) {
  if (tokens <= ws_tokens_) return;
  for (float* p : {ws_.x, ws_.xn, ws_.q, ws_.k, ws_.v, ws_.att, ws_.o, ws_.router, ws_.moe, ws_.logits})
    if (p) be_->release(p);
  ws_ = {};
  ws_tokens_ = 0;
  const size_t T = size_t(tokens), D = size_t(cfg_.hidden), Q = size_t(cfg_.heads) * cfg_.head_dim;
  const size_t KV = size_t(cfg_.kv_heads) * cfg_.head_dim;
  ws_.x = be_->alloc(T * D);
  ws_.xn = be_->alloc(T * D);
  ws_.q = be_->alloc(T * Q);
  ws_.k = be_->alloc(T * KV);
  ws_.v = be_->alloc(T * KV);
  ws_.att = be_->alloc(T * Q);
  ws_.o = be_->alloc(T * D);
  ws_.router = be_->alloc(T * size_t(cfg_.experts));
  ws_.moe = be_->alloc(T * D);
  ws_.logits = be_->alloc(T * size_t(cfg_.vocab));
  ws_tokens_ = tokens;
}

namespace {

int resolve_top_k(int top_k, const ModelConfig& c) {
  if (top_k < 0 || top_k > c.experts)
    throw Error("INVALID_OPTION", "experts per token must be in [1, " + std::to_string(c.experts) + "], got " +
                                      std::to_string(top_k));
  return top_k == 0 ? c.top_k : top_k;
}

// Restores the items' sequence lengths and traces unless the evaluation got to commit(): a failed call
// leaves every sequence as it was (cache rows past the old length are simply overwritten next time).
class Rollback {
 public:
  Rollback(const BatchItem* items, int count) : items_(items), count_(count) {
    for (int i = 0; i < count; ++i) {
      lengths_.push_back(items[i].seq->length);
      traces_.push_back(items[i].trace ? items[i].trace->experts.size() : 0);
    }
  }
  ~Rollback() {
    if (committed_) return;
    for (int i = 0; i < count_; ++i) {
      items_[i].seq->length = lengths_[size_t(i)];
      if (RouterTrace* t = items_[i].trace) { t->experts.resize(traces_[size_t(i)]); t->weights.resize(traces_[size_t(i)]); }
    }
  }
  void commit() { committed_ = true; }

 private:
  const BatchItem* items_;
  int count_;
  std::vector<int> lengths_;
  std::vector<size_t> traces_;
  bool committed_ = false;
};

}  // namespace

void Model::check_item(const BatchItem& it) const {
  if (it.n <= 0) throw Error("EMPTY_INPUT", "no tokens to evaluate");
  for (int i = 0; i < it.n; ++i)
    if (it.ids[i] < 0 || it.ids[i] >= cfg_.vocab)
      throw Error("TOKEN_OUT_OF_RANGE", "token id " + std::to_string(it.ids[i]) + " at index " + std::to_string(i) +
                                            " is outside the vocabulary [0, " + std::to_string(cfg_.vocab) + ")");
  const int total = it.seq->length + it.n;
  if (total > cfg_.max_positions)
    throw Error("CONTEXT_OVERFLOW", "sequence of " + std::to_string(total) + " tokens exceeds max_position_embeddings " +
                                        std::to_string(cfg_.max_positions));
  if (it.seq->kv.limit() > 0 && total > it.seq->kv.limit())
    throw Error("CONTEXT_OVERFLOW", "sequence of " + std::to_string(total) + " tokens exceeds its context size " +
                                        std::to_string(it.seq->kv.limit()));
}

void Model::forward(Sequence& seq, const int32_t* ids, int n, bool all_logits, float* logits, RouterTrace* trace,
                    int top_k) {
  const int K = resolve_top_k(top_k, cfg_);
  const BatchItem whole{&seq, ids, n, all_logits, logits, trace};
  check_item(whole);
  Rollback rollback(&whole, 1);
  seq.kv.reserve(seq.length + n, seq.length);
  for (int done = 0; done < n;) {  // a long prompt in chunks (bounds the workspace)
    const int m = std::min(kChunk, n - done);
    const bool last = done + m == n;
    float* out = all_logits ? logits + size_t(done) * cfg_.vocab : (last ? logits : nullptr);
    const BatchItem chunk{&seq, ids + done, m, all_logits, out, trace};
    step_chunk(&chunk, 1, K);
    done += m;
  }
  rollback.commit();
}

void Model::step(const BatchItem* items, int count, int top_k) {
  if (count <= 0) throw Error("EMPTY_INPUT", "a step needs at least one sequence");
  const int K = resolve_top_k(top_k, cfg_);
  for (int i = 0; i < count; ++i) {
    check_item(items[i]);
    for (int j = 0; j < i; ++j)
      if (items[j].seq == items[i].seq) throw Error("INVALID_CALL", "a step names the same sequence twice");
  }
  Rollback rollback(items, count);
  for (int i = 0; i < count; ++i) items[i].seq->kv.reserve(items[i].seq->length + items[i].n, items[i].seq->length);
  step_chunk(items, count, K);
  rollback.commit();
}

// Batch layout: the items' tokens back to back, rows [off_i, off_i + n_i) for item i.
void Model::step_chunk(const BatchItem* items, int count, int top_k) {
  Backend& be = *be_;
  const ModelConfig& c = cfg_;
  int m = 0;
  for (int i = 0; i < count; ++i) m += items[i].n;
  ensure_workspace(m);
  const int D = c.hidden, H = c.heads, G = c.kv_heads, Hd = c.head_dim, E = c.experts, K = top_k;
  const size_t Q = size_t(H) * Hd, KV = size_t(G) * Hd;
  pos_.resize(size_t(m));
  out_rows_.clear();
  for (int i = 0, off = 0; i < count; off += items[i].n, ++i) {
    for (int t = 0; t < items[i].n; ++t) pos_[size_t(off + t)] = items[i].seq->length + t;
    if (items[i].logits)
      for (int t = items[i].all_logits ? 0 : items[i].n - 1; t < items[i].n; ++t) out_rows_.push_back(off + t);
  }
  const AttentionParams ap{H, G, Hd, c.sliding_window, 1.0f / std::sqrt(float(Hd))};

  prof_.time("embed", [&] {  // x: [T, D]
    for (int i = 0, off = 0; i < count; off += items[i].n, ++i)
      be.embed(ws_.x + size_t(off) * D, w_.embed, items[i].ids, items[i].n);
  });
  for (int l = 0; l < c.layers; ++l) {
    const LayerWeights& lw = w_.layers[size_t(l)];
    // Attention block: projections over the whole batch, then each sequence's new K/V rows go into its
    // cache (converted to F16 where the cache is) and it attends over its own cache.
    prof_.time("norm", [&] { be.rmsnorm(ws_.xn, ws_.x, lw.attn_norm, m, D, c.rms_eps); });
    prof_.time("qkv", [&] {
      const Backend::Projection qkv[3] = {{ws_.q, &lw.wq},   // [T, H*Hd]
                                          {ws_.k, &lw.wk},   // [T, G*Hd]
                                          {ws_.v, &lw.wv}};  // [T, G*Hd]
      be.matmul_many(qkv, 3, ws_.xn, m);
    });
    prof_.time("rope", [&] {
      be.rope(ws_.q, m, H, Hd, pos_.data(), inv_freq_.data(), c.rope_pairs);
      be.rope(ws_.k, m, G, Hd, pos_.data(), inv_freq_.data(), c.rope_pairs);
    });
    prof_.time("attention", [&] {  // [T, H*Hd]
      for (int i = 0, off = 0; i < count; off += items[i].n, ++i) {
        KvCache& kv = items[i].seq->kv;
        const size_t first = size_t(items[i].seq->length) * KV, rows = size_t(items[i].n) * KV;
        const float *kn = ws_.k + size_t(off) * KV, *vn = ws_.v + size_t(off) * KV;
        float* out = ws_.att + size_t(off) * Q;
        const float* q = ws_.q + size_t(off) * Q;
        const int32_t* pos = pos_.data() + off;
        if (kv.dtype() == DType::F16) {
          auto *kc = static_cast<uint16_t*>(kv.k(l)), *vc = static_cast<uint16_t*>(kv.v(l));
          be.store_f16(kc + first, kn, rows);
          be.store_f16(vc + first, vn, rows);
          be.attention_f16(out, q, kc, vc, items[i].n, pos, ap);
        } else {
          auto *kc = static_cast<float*>(kv.k(l)), *vc = static_cast<float*>(kv.v(l));
          be.copy(kc + first, kn, rows);
          be.copy(vc + first, vn, rows);
          be.attention(out, q, kc, vc, items[i].n, pos, ap);
        }
      }
    });
    prof_.time("o_proj", [&] { be.matmul(ws_.o, ws_.att, lw.wo, m); });  // [T, D]
    prof_.time("add", [&] { be.add(ws_.x, ws_.o, size_t(m) * D); });
    // Sparse MoE block, over the whole batch: one routing plan groups every sequence's tokens by expert.
    prof_.time("norm", [&] { be.rmsnorm(ws_.xn, ws_.x, lw.ffn_norm, m, D, c.rms_eps); });
    prof_.time("router", [&] {
      be.matmul(ws_.router, ws_.xn, lw.gate, m);  // [T, E]
      be.gate_topk(ws_.router, m, E, K, plan_);
    });
    prof_.time("experts", [&] { be.moe_experts(ws_.moe, ws_.xn, m, D, plan_, lw.experts); });  // [T, D]
    prof_.time("add", [&] { be.add(ws_.x, ws_.moe, size_t(m) * D); });
    bool traced = false;
    for (int i = 0; i < count; ++i) traced = traced || items[i].trace;
    if (traced || counting_) be.plan_to_host(plan_);  // the plan may live in device memory (CUDA); a no-op on the CPU
    if (counting_)
      for (int e = 0; e < E; ++e)
        counts_[size_t(l) * E + e].fetch_add(uint64_t(plan_.offsets[size_t(e) + 1] - plan_.offsets[size_t(e)]),
                                             std::memory_order_relaxed);
    for (int i = 0, off = 0; i < count; off += items[i].n, ++i) {
      RouterTrace* trace = items[i].trace;
      if (!trace) continue;
      const int n = items[i].n;  // trace layout [token, layer, K]; the item's rows are appended at layer 0
      if (l == 0) {
        trace->experts.resize(trace->experts.size() + size_t(n) * c.layers * K);
        trace->weights.resize(trace->weights.size() + size_t(n) * c.layers * K);
      }
      const size_t first = trace->experts.size() - size_t(n) * c.layers * K;
      for (int t = 0; t < n; ++t)
        for (int j = 0; j < K; ++j) {
          const size_t dst = first + (size_t(t) * c.layers + l) * K + j, src = size_t(off + t) * K + j;
          trace->experts[dst] = plan_.expert_ids[src];
          trace->weights[dst] = plan_.weights[src];
        }
    }
  }
  if (!out_rows_.empty()) {
    // The rows that want logits, gathered into xn (normed) in item order, then one lm_head over them.
    const int R = int(out_rows_.size());
    prof_.time("norm", [&] {
      for (int r = 0; r < R;) {
        int run = 1;
        while (r + run < R && out_rows_[size_t(r + run)] == out_rows_[size_t(r)] + run) ++run;
        be.rmsnorm(ws_.xn + size_t(r) * D, ws_.x + size_t(out_rows_[size_t(r)]) * D, w_.norm, run, D, c.rms_eps);
        r += run;
      }
    });
    prof_.time("lm_head", [&] { be.matmul(ws_.logits, ws_.xn, w_.lm_head, R); });  // [R, V]
    for (int i = 0, r = 0; i < count; ++i) {
      if (!items[i].logits) continue;
      const int rows = items[i].all_logits ? items[i].n : 1;
      be.download(items[i].logits, ws_.logits + size_t(r) * c.vocab, size_t(rows) * c.vocab);
      r += rows;
    }
  }
  for (int i = 0; i < count; ++i) items[i].seq->length += items[i].n;
}

}  // namespace smoe
