// Opt-in wall-clock time per graph op (SMOE_PROFILE=1), printed to stderr when the model is freed.
// Times are exact on the CPU backend, whose ops are synchronous.
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace smoe {

class OpProfile {
 public:
  OpProfile() : on_(std::getenv("SMOE_PROFILE") && std::string(std::getenv("SMOE_PROFILE")) == "1") {}
  ~OpProfile() {
    if (!on_ || totals_.empty()) return;
    double all = 0;
    for (auto& [k, v] : totals_) all += v;
    std::fprintf(stderr, "smoe profile (%.1f ms in graph ops):\n", all * 1e3);
    for (auto& [k, v] : totals_) std::fprintf(stderr, "  %-10s %9.1f ms  %5.1f%%\n", k.c_str(), v * 1e3, 100 * v / all);
  }
  // Runs fn, charging its time to `op`.
  template <class F>
  void time(const char* op, F&& fn) {
    if (!on_) { fn(); return; }
    auto t0 = std::chrono::steady_clock::now();
    fn();
    totals_[op] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

 private:
  bool on_;
  std::map<std::string, double> totals_;
};

}  // namespace smoe
