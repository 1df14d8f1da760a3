// The load spec built by lib/load (validated there) and re-checked here against the mapped files:
//   { config: {...}, threads, simd, files: string[], weights: { embed, norm, lmHead, layers: [...] },
//     device?: 'cpu' | 'cuda' | 'cuda:N' (default 'cpu'), precision?: 'fp32' | 'bf16' (CUDA only; default 'bf16') }
// where each tensor is { name, file, offset, dtype, rows, cols } and dtype is a ggml type name: 'F32' | 'F16' |
// 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' (any other:
// UNSUPPORTED_QUANT). A quantized tensor's cols must be a multiple of its block (32 or 256 elements).
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "../model/config.h"
#include "../model/weights.h"
#include "../load/mapped_file.h"

namespace smoe::addon {

struct TensorSpec {
  std::string name;
  int file = 0;
  int64_t offset = 0, rows = 0, cols = 0;
  DType dtype = DType::F32;
};

struct LayerSpec {
  TensorSpec attn_norm, wq, wk, wv, wo, ffn_norm, gate;
  std::vector<TensorSpec> w1, w2, w3;
};

struct LoadSpec {
  ModelConfig config;
  int threads = 1;
  std::string simd;
  int cuda_device = -1;        // -1: the CPU; else the CUDA ordinal N of 'cuda:N'
  std::string precision;       // "fp32" or "bf16" ("" = the backend's default); the CPU ignores it
  bool resident = false;       // read the files into huge-page memory instead of mapping them
  bool interleave = true;      // CPU: rewrite Q8_0 / Q4_K matmul weights in the kernels' layout at load
  std::vector<std::string> files;
  // owned[i] is set when files[i] is an allocWeights buffer (then files[i] is a label), else null.
  std::vector<std::shared_ptr<const OwnedWeights>> owned;
  TensorSpec embed, norm, lm_head;
  std::vector<LayerSpec> layers;
};

// Reads the JS object (main thread). Throws smoe::Error{INVALID_SPEC} on a malformed spec.
LoadSpec parse_spec(const Napi::Object& spec);

// Throws UNSUPPORTED_QUANT naming the first quantized tensor when the spec asks for a CUDA device: the CUDA
// backend computes F32 / F16 / BF16 weights only (a later issue), and must never compute the others wrongly.
void refuse_quantized_on_cuda(const LoadSpec& spec);

// Binds every tensor to its bytes in the mapped files (worker thread). Throws on out-of-bounds tensors.
ModelWeights bind_weights(const LoadSpec& spec, const std::vector<std::unique_ptr<MappedFile>>& files);

}  // namespace smoe::addon
