// Per-sequence key/value cache in backend memory: per layer K and V of [capacity, G*Hd] F32, grown by
// doubling (so decoding a token costs one token's work, amortized).
#pragma once
#include <algorithm>
#include <vector>

#include "../backend.h"
#include "config.h"

namespace smoe {

class KvCache {
 public:
  KvCache(Backend& be, const ModelConfig& c) : be_(be), row_(size_t(c.kv_heads) * c.head_dim), k_(c.layers), v_(c.layers) {}
  ~KvCache() { free_all(); }
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Makes room for `positions` rows per layer, keeping the first `keep` rows.
  void reserve(int positions, int keep) {
    if (positions <= capacity_) return;
    int cap = capacity_ ? capacity_ : 64;
    while (cap < positions) cap *= 2;
    for (size_t l = 0; l < k_.size(); ++l) {
      k_[l] = grow(k_[l], cap, keep);
      v_[l] = grow(v_[l], cap, keep);
    }
    capacity_ = cap;
  }
  float* k(int layer) { return k_[size_t(layer)]; }
  float* v(int layer) { return v_[size_t(layer)]; }
  size_t row() const { return row_; }
  int capacity() const { return capacity_; }
  size_t bytes() const { return size_t(capacity_) * row_ * sizeof(float) * 2 * k_.size(); }
  void free_all() {
    for (auto* p : k_) if (p) be_.release(p);
    for (auto* p : v_) if (p) be_.release(p);
    std::fill(k_.begin(), k_.end(), nullptr);
    std::fill(v_.begin(), v_.end(), nullptr);
    capacity_ = 0;
  }

 private:
  float* grow(float* old, int cap, int keep) {
    float* p = be_.alloc(size_t(cap) * row_);
    if (old) {
      if (keep > 0) be_.copy(p, old, size_t(keep) * row_);
      be_.release(old);
    }
    return p;
  }
  Backend& be_;
  size_t row_;
  std::vector<float*> k_, v_;
  int capacity_ = 0;
};

}  // namespace smoe
