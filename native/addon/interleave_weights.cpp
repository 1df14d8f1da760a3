#include "interleave_weights.h"

#include <algorithm>
#include <atomic>
#include <thread>

namespace smoe::addon {

size_t interleave_weights(ModelWeights& w, const std::vector<std::unique_ptr<MappedFile>>& files,
                          const cpu::CpuBackend& be, int threads) {
  // Every tensor's bytes, to find the ones another tensor also reads (tied, or overlapping in a hostile file).
  std::vector<Tensor*> all = {&w.embed, &w.norm, &w.lm_head}, matmul = {&w.lm_head};
  for (LayerWeights& l : w.layers) {
    for (Tensor* t : {&l.attn_norm, &l.ffn_norm, &l.gate}) all.push_back(t);
    for (Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo}) { all.push_back(t); matmul.push_back(t); }
    for (ExpertWeights& e : l.experts)
      for (Tensor* t : {&e.w1, &e.w3, &e.w2}) { all.push_back(t); matmul.push_back(t); }
  }
  struct Span { const char* b; const char* e; const Tensor* t; };
  std::vector<Span> spans;
  for (const Tensor* t : all)
    if (t->data) spans.push_back({static_cast<const char*>(t->data), static_cast<const char*>(t->data) + t->bytes(), t});
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.b < b.b; });
  auto shared = [&](const Tensor* t) {
    const char* b = static_cast<const char*>(t->data);
    const char* e = b + t->bytes();
    for (const Span& s : spans)  // sorted by start: stop once the spans begin past t's end
      if (s.b >= e) break;
      else if (s.t != t && s.e > b) return true;
    return false;
  };
  std::vector<Tensor*> todo;
  for (Tensor* t : matmul) {
    if (!t->data || !be.interleaves(t->dtype) || t->rows < 8 || shared(t)) continue;
    for (const auto& f : files)
      if (f->contains(t->data, t->bytes())) {
        if (f->make_writable(t->data, t->bytes())) todo.push_back(t);
        break;
      }
  }
  std::atomic<size_t> next{0}, bytes{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < todo.size();) {
      be.interleave(*todo[i]);
      bytes += todo[i]->bytes();
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < std::max(1, threads); ++k) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return bytes;
}

}  // namespace smoe::addon
