#include "thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace smoe {

static inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static int64_t spin_ns_from_env() {
  const char* s = std::getenv("SMOE_SPIN_US");
  if (s && *s) {
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    if (end && *end == '\0' && v >= 0 && v <= 1000000) return int64_t(v) * 1000;
  }
  return 1000 * 1000;  // 1 ms: longer than the gap between two decode steps, short for an idle process
}

ThreadPool::ThreadPool(int threads) : spin_ns_(spin_ns_from_env()) {
  for (int i = 1; i < std::max(1, threads); ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int index) {
  using Clock = std::chrono::steady_clock;
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    if (gen == seen) {
      // Spin, reading the clock every 64 pauses, until work comes or the spin budget is spent.
      const auto until = Clock::now() + std::chrono::nanoseconds(spin_ns_);
      for (int spin = 1; gen == seen; ++spin) {
        cpu_relax();
        gen = generation_.load(std::memory_order_acquire);
        if ((spin & 63) == 0 && Clock::now() >= until) break;
      }
    }
    if (gen == seen) {
      // Sleep. sleepers_ is raised before generation_ is read again (both seq_cst), and run() bumps
      // generation_ before it reads sleepers_: one of the two sees the other, so no wake-up is lost.
      std::unique_lock<std::mutex> lk(mu_);
      sleepers_.fetch_add(1);
      cv_.wait(lk, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
      gen = generation_.load();
    }
    seen = gen;
    if (stop_) return;
    (*job_)(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(const std::function<void(int)>& job) {
  if (workers_.empty()) { job(0); return; }
  job_ = &job;
  pending_.store(int(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1);  // seq_cst: publishes job_ and pending_, ordered before the sleepers_ read
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lk(mu_); }  // a worker between its predicate check and its wait holds mu_
    cv_.notify_all();
  }
  job(0);
  while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
}

void ThreadPool::barrier() {
  const int n = size();
  if (n == 1) return;
  const uint32_t phase = bar_phase_.load(std::memory_order_acquire);
  if (bar_count_.fetch_add(1, std::memory_order_acq_rel) == n - 1) {
    bar_count_.store(0, std::memory_order_relaxed);
    bar_phase_.store(phase + 1, std::memory_order_release);
  } else {
    while (bar_phase_.load(std::memory_order_acquire) == phase) cpu_relax();
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  const int threads = int(std::min<int64_t>(size(), units));
  if (threads <= 1) { fn(0, n, 0); return; }
  run([&](int w) {
    if (w >= threads) return;
    const int64_t u0 = units * w / threads, u1 = units * (w + 1) / threads;
    const int64_t b = u0 * grain, e = std::min(n, u1 * grain);
    if (b < e) fn(b, e, w);
  });
}

void ThreadPool::parallel_tasks(int64_t n, const std::function<void(int64_t, int)>& fn) {
  if (n <= 0) return;
  if (n == 1 || workers_.empty()) { for (int64_t i = 0; i < n; ++i) fn(i, 0); return; }
  std::atomic<int64_t> next{0};
  run([&](int w) {
    for (int64_t i; (i = next.fetch_add(1)) < n;) fn(i, w);
  });
}

}  // namespace smoe
