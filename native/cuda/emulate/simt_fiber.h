// Fibers for the SIMT emulation: a small stack and a saved stack pointer each; switch() saves the running
// context and resumes another. x86-64 and AArch64 use a few instructions of assembly (callee-saved
// registers, the FP control state); other targets fall back to ucontext.
#pragma once
#include <cstddef>

#if !defined(__x86_64__) && !defined(__aarch64__)
#include <ucontext.h>
#endif

namespace smoe::emu {

struct FiberContext {
#if defined(__x86_64__) || defined(__aarch64__)
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
};

// Prepares `ctx` to run entry(arg) on the stack [stack, stack + size) when first switched to. entry must
// never return (it switches away for the last time instead).
void fiber_init(FiberContext& ctx, char* stack, size_t size, void (*entry)(void*), void* arg);
// Saves the running context into `from` and resumes `to`.
void fiber_switch(FiberContext& from, FiberContext& to);

}  // namespace smoe::emu
