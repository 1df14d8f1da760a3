// The SIMT emulation's launch: blocks one after another in a random order, each block's threads as fibers
// resumed in a random order at every synchronization point (seeded per launch: SMOE_EMU_SEED, default fixed),
// __syncthreads as a block barrier and the warp intrinsics as exchanges at a warp barrier. A deadlock (a
// barrier some thread never reaches), lanes of a warp at different intrinsics and faults end the launch with
// an error naming the kernel, block and threads.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "simt_fiber.h"
#include "simt_internal.h"

namespace smoe::emu {

const uint3* g_thread_idx = nullptr;
uint3 g_block_idx{0, 0, 0}, g_block_dim{1, 1, 1}, g_grid_dim{1, 1, 1};

void mma_m16n8k16_bf16_compute(const uint32_t* const a[32], const uint32_t b[32][2], const float* const c[32],
                               float* const d[32]);  // simt_mma.cpp

namespace {

constexpr size_t kStackBytes = 64 * 1024;  // per thread; the kernels' frames are a few KiB
constexpr int kMaxThreads = 1024;
constexpr size_t kMaxDynamicShared = 101376;  // 99 KiB: the opt-in limit of sm_86 / sm_89 (sm_80: 163 KiB)
constexpr size_t kDefaultShared = 48 * 1024;

enum class St : uint8_t { Ready, Sync, Warp, Done };

struct Thread {
  FiberContext ctx;
  uint3 tid{0, 0, 0};
  int lane = 0, warp = 0;
  St st = St::Ready;
  // The warp intrinsic this thread waits at.
  bool mma = false;
  WarpOp op = WarpOp::Shfl;
  unsigned mask = 0;
  uint64_t value = 0, result = 0;
  int arg = 0;
  const char* what = "";
  const uint32_t* ma = nullptr;
  uint32_t mb[2] = {0, 0};
  const float* mc = nullptr;
  float* md = nullptr;
};

// xorshift64*: the scheduler draws once per resumed thread, so it must be cheap.
struct Rng {
  uint64_t s = 1;
  using result_type = uint64_t;
  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return ~uint64_t(0); }
  void seed(uint64_t v) { s = v ? v : 0x9e3779b97f4a7c15ull; }
  uint64_t operator()() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
};

struct Warp {
  unsigned exist = 0, arrived = 0;
  int first = -1;
};

struct Run {
  const LaunchConfig* c = nullptr;
  const std::function<void()>* body = nullptr;
  std::vector<Thread> threads;
  std::vector<Warp> warps;
  std::vector<int> runnable;
  int n = 0, done = 0, at_sync = 0;
  FiberContext sched;
  Thread* cur = nullptr;
  Rng rng;
  uint64_t seed = 0, launch_no = 0;
  Guarded dyn;
  std::string failure;  // set by the scheduler (deadlocks, mismatched warp intrinsics)
};
Run g_run;
bool g_running = false;

std::vector<Guarded>& stacks() {
  static std::vector<Guarded> s;
  return s;
}

uint64_t base_seed() {
  static const uint64_t s = [] {
    const char* v = std::getenv("SMOE_EMU_SEED");
    return v && *v ? std::strtoull(v, nullptr, 0) : uint64_t(0x5eed);
  }();
  return s;
}

std::string dim(const uint3& d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}
std::string dim(const dim3& d) { return dim(uint3{d.x, d.y, d.z}); }

std::string block_text() {
  return std::string("kernel ") + g_run.c->name + ", block " + dim(g_block_idx) + " (launch " +
         std::to_string(g_run.launch_no) + ", seed " + std::to_string(g_run.seed) + ")";
}

std::string lanes_text(unsigned m) {
  std::string s;
  for (int l = 0; l < 32; ++l)
    if (m >> l & 1u) s += (s.empty() ? "" : ",") + std::to_string(l);
  return "{" + s + "}";
}

void make_ready(int i) {
  g_run.threads[size_t(i)].st = St::Ready;
  g_run.runnable.push_back(i);
}

// A random runnable thread, taken off the list.
Thread& pick() {
  Run& r = g_run;
  const size_t k = size_t((r.rng() >> 32) * r.runnable.size() >> 32);
  const int i = r.runnable[k];
  r.runnable[k] = r.runnable.back();
  r.runnable.pop_back();
  return r.threads[size_t(i)];
}

void arrive_warp(Thread& t);

// Thread t has stopped (t.st says why): accounts for it, then resumes a random runnable thread straight from
// t's context (no detour through the scheduler), or goes back to the scheduler when none is left (a barrier to
// release, the end of the block, a deadlock) or something failed. Returns when t is resumed.
void stop(Thread& t) {
  Run& r = g_run;
  if (t.st == St::Done) ++r.done;
  else if (t.st == St::Sync) ++r.at_sync;
  else if (t.st == St::Warp) arrive_warp(t);
  if (!r.failure.empty() || r.runnable.empty()) {
    r.cur = nullptr;
    fiber_switch(t.ctx, r.sched);
    return;
  }
  Thread& n = pick();
  if (&n == &t) return;  // the last lane of a warp intrinsic, drawn to go on at once
  r.cur = &n;
  g_thread_idx = &n.tid;
  fiber_switch(t.ctx, n.ctx);
}

void thread_main(void* p) {
  Thread* t = static_cast<Thread*>(p);
  (*g_run.body)();
  t->st = St::Done;
  stop(*t);  // never resumed
}

void yield(St st) {
  Thread* t = g_run.cur;
  t->st = st;
  stop(*t);
}

// The lanes of a warp all waiting at one intrinsic: computes every lane's result and wakes them.
void complete_warp(int w, unsigned need) {
  Run& r = g_run;
  Thread* lane[32] = {};
  for (int l = 0; l < 32; ++l)
    if (need >> l & 1u) lane[l] = &r.threads[size_t(w * 32 + l)];
  const Thread& f = *lane[__builtin_ctz(need)];
  if (f.mma) {
    const uint32_t* a[32];
    uint32_t b[32][2];
    const float* c[32];
    float* d[32];
    for (int l = 0; l < 32; ++l) {
      a[l] = lane[l]->ma;
      b[l][0] = lane[l]->mb[0];
      b[l][1] = lane[l]->mb[1];
      c[l] = lane[l]->mc;
      d[l] = lane[l]->md;
    }
    mma_m16n8k16_bf16_compute(a, b, c, d);
  } else {
    unsigned ballot = 0;
    for (int l = 0; l < 32; ++l)
      if (lane[l] && lane[l]->value) ballot |= 1u << l;
    for (int l = 0; l < 32; ++l) {
      if (!lane[l]) continue;
      Thread& t = *lane[l];
      if (f.op == WarpOp::Ballot) { t.result = ballot; continue; }
      const int src = (f.op == WarpOp::Shfl ? t.arg : (l ^ t.arg)) & 31;
      if (!lane[src]) {
        r.failure = block_text() + ": lane " + std::to_string(l) + " of warp " + std::to_string(w) + " reads lane " +
                    std::to_string(src) + " with " + t.what + ", which is not in the mask " + lanes_text(need);
        return;
      }
      t.result = lane[src]->value;
    }
  }
  for (int l = 0; l < 32; ++l)
    if (lane[l]) make_ready(w * 32 + l);
  r.warps[size_t(w)].arrived = 0;
  r.warps[size_t(w)].first = -1;
}

void arrive_warp(Thread& t) {
  Run& r = g_run;
  Warp& w = r.warps[size_t(t.warp)];
  auto who = [&] {
    return block_text() + ": thread " + dim(t.tid) + " (warp " + std::to_string(t.warp) + ", lane " +
           std::to_string(t.lane) + ") ";
  };
  if (!(t.mask >> t.lane & 1u)) { r.failure = who() + "calls " + t.what + " with a mask that leaves it out"; return; }
  if (t.mask & ~w.exist) {
    r.failure = who() + "calls " + t.what + " with mask " + lanes_text(t.mask) + " naming lanes the block does not have";
    return;
  }
  if (w.first >= 0) {
    const Thread& f = r.threads[size_t(w.first)];
    if (f.mma != t.mma || f.op != t.op || f.mask != t.mask) {
      r.failure = who() + "is at " + t.what + " (mask " + lanes_text(t.mask) + ") while lane " + std::to_string(f.lane) +
                  " of its warp is at " + f.what + " (mask " + lanes_text(f.mask) + ")";
      return;
    }
  } else {
    w.first = int(&t - r.threads.data());
  }
  w.arrived |= 1u << t.lane;
  if (w.arrived == t.mask) complete_warp(t.warp, t.mask);
}

std::string deadlock_text() {
  Run& r = g_run;
  std::string s = block_text() + ": deadlock: no thread can go on.";
  if (r.at_sync) s += " " + std::to_string(r.at_sync) + " thread(s) wait at __syncthreads;";
  for (size_t w = 0; w < r.warps.size(); ++w) {
    const Warp& wp = r.warps[w];
    if (!wp.arrived) continue;
    const Thread& f = r.threads[size_t(wp.first)];
    unsigned exited = 0, syncing = 0;
    for (int l = 0; l < 32; ++l) {
      if (!(f.mask >> l & 1u) || (wp.arrived >> l & 1u)) continue;
      const St st = r.threads[w * 32 + size_t(l)].st;
      if (st == St::Done) exited |= 1u << l;
      else if (st == St::Sync) syncing |= 1u << l;
    }
    s += " warp " + std::to_string(w) + ": lanes " + lanes_text(wp.arrived) + " wait at " + f.what;
    if (exited) s += ", lanes " + lanes_text(exited) + " of its mask have exited";
    if (syncing) s += ", lanes " + lanes_text(syncing) + " of its mask wait at __syncthreads";
    s += ";";
  }
  return s;
}

// Runs one block to completion; false (with r.failure) on a deadlock or a warp mismatch.
bool run_block(uint3 b) {
  Run& r = g_run;
  g_block_idx = b;
  if (r.dyn.data && r.dyn.bytes) std::memset(r.dyn.data, 0xff, r.dyn.bytes);  // garbage, as on a GPU (NaN)
  r.runnable.clear();
  for (Warp& w : r.warps) { w.arrived = 0; w.first = -1; }
  for (int i = 0; i < r.n; ++i) {
    Thread& t = r.threads[size_t(i)];
    Guarded& st = stacks()[size_t(i)];
    fiber_init(t.ctx, st.data, st.bytes, thread_main, &t);
    make_ready(i);
  }
  r.done = r.at_sync = 0;
  for (;;) {
    if (!r.runnable.empty()) {  // runs threads until none can go on (see stop())
      Thread& t = pick();
      r.cur = &t;
      g_thread_idx = &t.tid;
      fiber_switch(r.sched, t.ctx);
      if (!r.failure.empty()) return false;
      continue;
    }
    if (r.done == r.n) return true;
    bool warp_waits = false;
    for (const Warp& w : r.warps) warp_waits = warp_waits || w.arrived;
    if (r.at_sync == r.n - r.done && !warp_waits) {
      for (int i = 0; i < r.n; ++i)
        if (r.threads[size_t(i)].st == St::Sync) make_ready(i);
      r.at_sync = 0;
      continue;
    }
    r.failure = deadlock_text();
    return false;
  }
}

bool run_grid() {
  Run& r = g_run;
  const dim3 g = r.c->grid;
  const size_t blocks = size_t(g.x) * g.y * g.z;
  std::vector<uint32_t> order(blocks);
  for (size_t i = 0; i < blocks; ++i) order[i] = uint32_t(i);
  std::shuffle(order.begin(), order.end(), r.rng);
  for (uint32_t i : order) {
    const uint3 b{i % g.x, (i / g.x) % g.y, unsigned(i / (size_t(g.x) * g.y))};
    if (!run_block(b)) return false;
  }
  return true;
}

std::string config_error(const LaunchConfig& c, size_t opt_in) {
  const size_t threads = size_t(c.block.x) * c.block.y * c.block.z;
  if (threads == 0 || threads > kMaxThreads || c.block.z > 64)
    return "block " + dim(c.block) + " has " + std::to_string(threads) + " threads (1..1024 allowed)";
  if (c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 || c.grid.y > 65535 || c.grid.z > 65535)
    return "grid " + dim(c.grid) + " is empty or too large";
  if (c.smem > kDefaultShared && c.smem > opt_in)
    return std::to_string(c.smem) + " bytes of dynamic shared memory requested, more than the 48 KiB default " +
           "without cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize) (set: " + std::to_string(opt_in) + ")";
  return "";
}

std::vector<std::pair<const void*, size_t>>& opt_ins() {
  static std::vector<std::pair<const void*, size_t>> v;
  return v;
}

}  // namespace

size_t max_dynamic_shared() { return kMaxDynamicShared; }

cudaError_t set_opt_in(const void* fn, int value) {
  if (value < 0 || size_t(value) > kMaxDynamicShared) {
    set_error(cudaErrorInvalidValue, "cudaFuncSetAttribute: " + std::to_string(value) +
                                         " bytes of dynamic shared memory exceed the device's " + std::to_string(kMaxDynamicShared));
    return cudaErrorInvalidValue;
  }
  for (auto& p : opt_ins())
    if (p.first == fn) { p.second = size_t(value); return cudaSuccess; }
  opt_ins().push_back({fn, size_t(value)});
  return cudaSuccess;
}

void launch(const LaunchConfig& c, const std::function<void()>& body) {
  std::lock_guard<std::mutex> lock(api_lock());
  static uint64_t launches = 0;
  size_t opt_in = 0;
  for (auto& p : opt_ins())
    if (p.first == c.fn) opt_in = p.second;
  const std::string bad = config_error(c, opt_in);
  if (!bad.empty()) { set_error(cudaErrorInvalidConfiguration, std::string("kernel ") + c.name + ": " + bad); return; }
  if (g_running) { set_error(cudaErrorLaunchFailure, std::string("kernel ") + c.name + " launched from inside a kernel"); return; }

  Run& r = g_run;
  r.c = &c;
  r.body = &body;
  r.n = int(c.block.x * c.block.y * c.block.z);
  r.launch_no = ++launches;
  r.seed = base_seed() ^ (r.launch_no * 0x9e3779b97f4a7c15ull);
  r.rng.seed(r.seed);
  r.failure.clear();
  g_block_dim = uint3{c.block.x, c.block.y, c.block.z};
  g_grid_dim = uint3{c.grid.x, c.grid.y, c.grid.z};
  while (stacks().size() < size_t(r.n)) stacks().push_back(guarded_alloc(kStackBytes, -1));
  if (r.threads.size() < size_t(r.n)) r.threads.resize(size_t(r.n));
  r.warps.assign(size_t((r.n + 31) / 32), Warp{});
  for (int i = 0; i < r.n; ++i) {
    Thread& t = r.threads[size_t(i)];
    t.tid = uint3{unsigned(i) % c.block.x, (unsigned(i) / c.block.x) % c.block.y, unsigned(i) / (c.block.x * c.block.y)};
    t.lane = i & 31;
    t.warp = i >> 5;
    r.warps[size_t(t.warp)].exist |= 1u << t.lane;
  }
  r.dyn = guarded_alloc(c.smem, 0xff);

  g_running = true;
  volatile bool ok = false;
  {
    FaultScope faults;
    sigjmp_buf jb;
    g_fault_jump = &jb;
    if (sigsetjmp(jb, 1) == 0) {
      ok = run_grid();
      if (!ok) set_error(cudaErrorLaunchFailure, r.failure);
    } else {
      set_error(g_fault_text.rfind("illegal", 0) == 0 ? cudaErrorIllegalAddress : cudaErrorIllegalInstruction, g_fault_text);
    }
    g_fault_jump = nullptr;
  }
  g_running = false;
  r.cur = nullptr;
  guarded_free(r.dyn);
  if (ok) {
    const std::string slack = check_allocation_slack();
    if (!slack.empty()) set_error(cudaErrorIllegalAddress, std::string("kernel ") + c.name + " wrote " + slack);
  }
}

void block_barrier() { yield(St::Sync); }

uint64_t warp_exchange(WarpOp op, unsigned mask, uint64_t value, int arg, const char* what) {
  Thread* t = g_run.cur;
  t->mma = false;
  t->op = op;
  t->mask = mask;
  t->value = value;
  t->arg = arg;
  t->what = what;
  yield(St::Warp);
  return t->result;
}

void warp_mma_m16n8k16_bf16(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1, const float c[4]) {
  Thread* t = g_run.cur;
  t->mma = true;
  t->op = WarpOp::Shfl;
  t->mask = 0xffffffffu;  // mma.sync.aligned: the whole warp
  t->what = "mma.sync.aligned.m16n8k16";
  t->ma = a;
  t->mb[0] = b0;
  t->mb[1] = b1;
  t->mc = c;
  t->md = d;
  yield(St::Warp);
}

void* dynamic_shared(size_t) { return g_run.dyn.data; }

[[noreturn]] void trap(const char* what) {
  g_fault_text = std::string(what) + " in " + where_now();
  siglongjmp(*g_fault_jump, 1);
}

std::string where_now() {
  if (!g_running || !g_run.cur) return "the SIMT emulator (outside any kernel thread)";
  const Thread& t = *g_run.cur;
  return block_text() + ", thread " + dim(t.tid) + " (warp " + std::to_string(t.warp) + ", lane " +
         std::to_string(t.lane) + ")";
}

const char* running_kernel() { return g_running && g_run.c ? g_run.c->name : nullptr; }

bool in_dynamic_shared_guard(const void* addr, std::string& what) {
  if (!g_running) return false;
  const char* a = static_cast<const char*>(addr);
  const Guarded& d = g_run.dyn;
  if (a < d.base || a >= d.base + d.total) return false;
  const long off = long(a - d.data);
  what = "dynamic shared memory at byte offset " + std::to_string(off) + " of the launch's " + std::to_string(d.bytes) + " bytes";
  return true;
}

bool in_stack_guard(const void* addr, std::string& what) {
  const char* a = static_cast<const char*>(addr);
  for (const Guarded& s : stacks())
    if (a >= s.base && a < s.data) { what = "the guard page below a thread's stack (stack overflow)"; return true; }
  return false;
}

}  // namespace smoe::emu
