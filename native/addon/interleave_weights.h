// The CPU backend's load step: the quantized matmul weights its kernels read faster with their rows
// interleaved (cpu/repack.h) are rewritten that way, in place, before the first forward.
#pragma once
#include <memory>
#include <vector>

#include "../cpu/cpu_backend.h"
#include "../load/mapped_file.h"
#include "../model/weights.h"

namespace smoe::addon {

// Interleaves every matmul weight of w that be.interleaves(), whose bytes lie in a file made writable for
// this process (a mapping turns copy-on-write, resident memory is already the process's) and that shares
// no byte with another tensor (a tied lm_head stays as the embedding reads it). OwnedWeights buffers are
// left as they are (their JS handle and other models may read them). Spreads the tensors over `threads`
// threads. Returns the bytes rewritten.
size_t interleave_weights(ModelWeights& w, const std::vector<std::unique_ptr<MappedFile>>& files,
                          const cpu::CpuBackend& be, int threads);

}  // namespace smoe::addon
