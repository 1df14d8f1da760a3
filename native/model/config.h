// The normalized Mixtral hyper-parameters (both config.json styles map onto this in lib/load/config.ts).
#pragma once

namespace smoe {

struct ModelConfig {
  int vocab = 0, hidden = 0, intermediate = 0, layers = 0;
  int heads = 0, kv_heads = 0, head_dim = 0;
  int experts = 0, top_k = 0;
  int max_positions = 0;
  int sliding_window = 0;  // 0 = none
  float rms_eps = 1e-5f, rope_theta = 1e6f;
  // RoPE on adjacent pairs (2i, 2i + 1) instead of halves: q/k rows as llama.cpp's converter permutes them
  // in GGUF files (attention is unchanged, since q and k carry the same permutation within each head).
  bool rope_pairs = false;
};

}  // namespace smoe
