// Fiber context switch (see simt_fiber.h).
#include "simt_fiber.h"

#include <cstdint>

#if defined(__x86_64__)
// smoe_emu_switch(void** save_sp, void* load_sp): pushes the callee-saved registers and MXCSR / x87 control
// word, stores rsp, loads the other stack and pops its state. A new fiber's stack is laid out so that the
// final `ret` enters smoe_emu_entry with r12 = arg, r13 = entry.
extern "C" void smoe_emu_switch(void** save_sp, void* load_sp);
extern "C" void smoe_emu_entry();
asm(R"(
  .text
  .p2align 4
  .type smoe_emu_switch,@function
smoe_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size smoe_emu_switch,.-smoe_emu_switch
  .p2align 4
  .type smoe_emu_entry,@function
smoe_emu_entry:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size smoe_emu_entry,.-smoe_emu_entry
)");

namespace smoe::emu {

void fiber_init(FiberContext& ctx, char* stack, size_t size, void (*entry)(void*), void* arg) {
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t(15);
  uint64_t* sp = reinterpret_cast<uint64_t*>(top - 128);  // 16-aligned: smoe_emu_entry runs with rsp % 16 == 0
  uint32_t mxcsr;
  uint16_t fcw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fcw));
  sp[0] = uint64_t(mxcsr) | (uint64_t(fcw) << 32);
  sp[1] = 0;                                       // r15
  sp[2] = 0;                                       // r14
  sp[3] = reinterpret_cast<uint64_t>(entry);       // r13
  sp[4] = reinterpret_cast<uint64_t>(arg);         // r12
  sp[5] = 0;                                       // rbx
  sp[6] = 0;                                       // rbp
  sp[7] = reinterpret_cast<uint64_t>(&smoe_emu_entry);
  ctx.sp = sp;
}

void fiber_switch(FiberContext& from, FiberContext& to) { smoe_emu_switch(&from.sp, to.sp); }

}  // namespace smoe::emu

#elif defined(__aarch64__)
// smoe_emu_switch(void** save_sp, void* load_sp): saves x19-x30, d8-d15 and FPCR below sp, stores sp, loads
// the other stack and restores its state; a new fiber's x30 is smoe_emu_entry, with x19 = arg, x20 = entry.
extern "C" void smoe_emu_switch(void** save_sp, void* load_sp);
extern "C" void smoe_emu_entry();
asm(R"(
  .text
  .p2align 4
  .type smoe_emu_switch,%function
smoe_emu_switch:
  sub sp, sp, #176
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mrs x9, fpcr
  str x9, [sp, #160]
  mov x9, sp
  str x9, [x0]
  mov sp, x1
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  ldr x9, [sp, #160]
  msr fpcr, x9
  add sp, sp, #176
  ret
  .size smoe_emu_switch,.-smoe_emu_switch
  .p2align 4
  .type smoe_emu_entry,%function
smoe_emu_entry:
  mov x0, x19
  blr x20
  brk #0
  .size smoe_emu_entry,.-smoe_emu_entry
)");

namespace smoe::emu {

void fiber_init(FiberContext& ctx, char* stack, size_t size, void (*entry)(void*), void* arg) {
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t(15);
  uint64_t* sp = reinterpret_cast<uint64_t*>(top - 256);
  for (int i = 0; i < 22; ++i) sp[i] = 0;
  sp[0] = reinterpret_cast<uint64_t>(arg);     // x19
  sp[1] = reinterpret_cast<uint64_t>(entry);   // x20
  sp[11] = reinterpret_cast<uint64_t>(&smoe_emu_entry);  // x30
  uint64_t fpcr;
  asm volatile("mrs %0, fpcr" : "=r"(fpcr));
  sp[20] = fpcr;
  ctx.sp = sp;
}

void fiber_switch(FiberContext& from, FiberContext& to) { smoe_emu_switch(&from.sp, to.sp); }

}  // namespace smoe::emu

#else

namespace smoe::emu {

void fiber_init(FiberContext& ctx, char* stack, size_t size, void (*entry)(void*), void* arg) {
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = stack;
  ctx.uc.uc_stack.ss_size = size;
  ctx.uc.uc_link = nullptr;
  // makecontext passes int arguments: split the pointer.
  const uintptr_t a = reinterpret_cast<uintptr_t>(arg), e = reinterpret_cast<uintptr_t>(entry);
  makecontext(&ctx.uc, reinterpret_cast<void (*)()>(+[](unsigned ah, unsigned al, unsigned eh, unsigned el) {
                reinterpret_cast<void (*)(void*)>((uintptr_t(eh) << 32) | el)(reinterpret_cast<void*>((uintptr_t(ah) << 32) | al));
              }),
              4, unsigned(a >> 32), unsigned(a), unsigned(e >> 32), unsigned(e));
}

void fiber_switch(FiberContext& from, FiberContext& to) { swapcontext(&from.uc, &to.uc); }

}  // namespace smoe::emu

#endif
