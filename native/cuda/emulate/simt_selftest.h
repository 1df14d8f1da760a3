// Deliberately wrong kernels (and their corrected twins) for the SIMT emulation build only: they show that the
// emulator turns the bugs a GPU would show into wrong results or named errors (test/simt-emulator.test.mjs,
// through opTest('simt_selftest', { kernel })).
#pragma once
#include <string>
#include <vector>

namespace smoe::cuda {

// Runs the self-test kernel `name` and returns its output; a kernel fault throws Error{CUDA_ERROR}.
std::vector<float> simt_selftest(const std::string& name);

}  // namespace smoe::cuda
