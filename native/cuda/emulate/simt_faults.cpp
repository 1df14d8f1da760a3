// Faults of emulated kernels: while a launch runs, SIGSEGV / SIGBUS (a guard page: out-of-bounds global or
// dynamic shared memory, a stack overflow), SIGILL (the trap -fsanitize=bounds plants for an array index out
// of bounds: __shared__ and local arrays) and SIGFPE (integer division by zero) on the launching thread jump
// back to the scheduler with a description naming the kernel, block and thread. Signals of other threads, or
// outside launches, go to the handlers that were installed before.
#include <signal.h>
#include <ucontext.h>

#include <pthread.h>

#include <cstdio>
#include <vector>

#include "simt_internal.h"

namespace smoe::emu {

sigjmp_buf* g_fault_jump = nullptr;
std::string g_fault_text;

namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
struct sigaction g_old[NSIG];
pthread_t g_owner;
std::vector<char> g_altstack(256 * 1024);
stack_t g_old_stack;

void forward(int sig, siginfo_t* info, void* uc) {
  const struct sigaction& o = g_old[sig];
  if ((o.sa_flags & SA_SIGINFO) && o.sa_sigaction) { o.sa_sigaction(sig, info, uc); return; }
  if (!(o.sa_flags & SA_SIGINFO) && o.sa_handler != SIG_DFL && o.sa_handler != SIG_IGN) { o.sa_handler(sig); return; }
  sigaction(sig, &o, nullptr);  // the default action: the instruction faults again and it happens
}

void on_fault(int sig, siginfo_t* info, void* uc) {
  if (!g_fault_jump || !pthread_equal(pthread_self(), g_owner)) { forward(sig, info, uc); return; }
  std::string what;
  if (sig == SIGSEGV || sig == SIGBUS) {
    const char* access = "access";
#if defined(__x86_64__)
    access = (static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_ERR] & 2) ? "write" : "read";
#endif
    char addr[32];
    std::snprintf(addr, sizeof addr, "%p", info->si_addr);
    what = std::string("illegal memory access: ") + access + " at " + addr + " (" + describe_address(info->si_addr) + ")";
  } else if (sig == SIGILL) {
    what = "an array index out of bounds (a __shared__ or local array; -fsanitize=bounds) or an illegal instruction";
  } else {
    what = "an integer division by zero";
  }
  g_fault_text = what + " in " + where_now();
  siglongjmp(*g_fault_jump, 1);
}

}  // namespace

FaultScope::FaultScope() {
  g_owner = pthread_self();
  stack_t ss{};
  ss.ss_sp = g_altstack.data();
  ss.ss_size = g_altstack.size();
  sigaltstack(&ss, &g_old_stack);
  struct sigaction sa {};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int s : kSignals) sigaction(s, &sa, &g_old[s]);
}

FaultScope::~FaultScope() {
  for (int s : kSignals) sigaction(s, &g_old[s], nullptr);
  if (g_old_stack.ss_flags & SS_DISABLE) {
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
  } else {
    sigaltstack(&g_old_stack, nullptr);
  }
}

}  // namespace smoe::emu
