// Per-sequence key/value cache in backend memory: per layer K and V of [capacity, G*Hd], stored as F32 or
// F16 (half the memory; values rounded to nearest even when written). Either grown by doubling (so decoding
// a token costs one token's work, amortized) or, with a fixed capacity, allocated once up front and never
// grown (a server's slots: their memory is committed when they are made).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../backend.h"
#include "../core/dtype.h"
#include "../core/error.h"
#include "config.h"

namespace smoe {

class KvCache {
 public:
  // fixed > 0: exactly `fixed` positions, allocated now; reserve() beyond them throws CONTEXT_OVERFLOW.
  KvCache(Backend& be, const ModelConfig& c, DType dtype = DType::F32, int fixed = 0)
      : be_(be), row_(size_t(c.kv_heads) * c.head_dim), dtype_(dtype), fixed_(fixed), k_(c.layers), v_(c.layers) {
    if (dtype != DType::F32 && dtype != DType::F16) throw Error("INVALID_OPTION", "the KV cache is stored as F32 or F16");
    if (fixed > 0) allocate(fixed, 0);
  }
  ~KvCache() { free_all(); }
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Makes room for `positions` rows per layer, keeping the first `keep` rows.
  void reserve(int positions, int keep) {
    if (positions <= capacity_) return;
    if (fixed_ > 0)
      throw Error("CONTEXT_OVERFLOW", "a context of " + std::to_string(positions) + " tokens exceeds the sequence's context size " +
                                          std::to_string(fixed_));
    int cap = capacity_ ? capacity_ : 64;
    while (cap < positions) cap *= 2;
    allocate(cap, keep);
  }
  // Raw rows of layer `layer`: float* for F32, uint16_t* (IEEE half) for F16.
  void* k(int layer) { return k_[size_t(layer)]; }
  void* v(int layer) { return v_[size_t(layer)]; }
  size_t row() const { return row_; }
  DType dtype() const { return dtype_; }
  int capacity() const { return capacity_; }
  int limit() const { return fixed_; }  // 0 = grows as needed
  size_t bytes() const { return size_t(capacity_) * row_bytes(dtype_, int64_t(row_)) * 2 * k_.size(); }
  void free_all() {
    for (auto* p : k_) if (p) be_.release(p);
    for (auto* p : v_) if (p) be_.release(p);
    std::fill(k_.begin(), k_.end(), nullptr);
    std::fill(v_.begin(), v_.end(), nullptr);
    capacity_ = 0;
  }

 private:
  // Backend memory is counted in floats: rows of F16 take half as many (rounded up).
  size_t floats(int rows) const { return (size_t(rows) * row_bytes(dtype_, int64_t(row_)) + 3) / 4; }
  void allocate(int cap, int keep) {
    for (size_t l = 0; l < k_.size(); ++l) {
      k_[l] = grow(k_[l], cap, keep);
      v_[l] = grow(v_[l], cap, keep);
    }
    capacity_ = cap;
  }
  float* grow(float* old, int cap, int keep) {
    float* p = be_.alloc(floats(cap));
    if (old) {
      if (keep > 0) be_.copy(p, old, floats(keep));
      be_.release(old);
    }
    return p;
  }
  Backend& be_;
  size_t row_;
  DType dtype_;
  int fixed_;
  std::vector<float*> k_, v_;
  int capacity_ = 0;
};

}  // namespace smoe
