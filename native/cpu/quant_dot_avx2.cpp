// The AVX2 quantized matmul (quant_dot_x86.h over the primitive in quant_prim_avx2.h), compiled with -mavx2
// -mfma -mf16c.
#include "quant_dot_driver.h"
#include "quant_dot_x86.h"
#include "quant_prim_avx2.h"
#include "quant_matmul.h"

namespace smoe::cpu {

QuantMatmulFn quant_matmul_avx2() { return &quant_matmul_dispatch<x86::Dot<x86::MaddUbs>>; }

}  // namespace smoe::cpu
