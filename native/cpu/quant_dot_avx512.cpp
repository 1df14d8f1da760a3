// The AVX512-VNNI quantized matmul (quant_dot_x86.h over the primitive in quant_prim_vnni.h), compiled with
// -mavx512vnni -mavx512vl.
#include "quant_dot_driver.h"
#include "quant_dot_x86.h"
#include "quant_prim_vnni.h"
#include "quant_matmul.h"

namespace smoe::cpu {

QuantMatmulFn quant_matmul_avx512() { return &quant_matmul_dispatch<x86::Dot<x86::Vnni>>; }

}  // namespace smoe::cpu
