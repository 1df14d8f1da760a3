// The Mixtral weight set as views into the mapped checkpoint (PyTorch Linear layout [out, in]).
#pragma once
#include <vector>

#include "../backend.h"

namespace smoe {

struct LayerWeights {
  Tensor attn_norm;               // [D]
  Tensor wq, wk, wv, wo;          // [H*Hd, D], [G*Hd, D], [G*Hd, D], [D, H*Hd]
  Tensor ffn_norm;                // [D]
  Tensor gate;                    // [E, D] router
  std::vector<ExpertWeights> experts;  // E of them
};

struct ModelWeights {
  Tensor embed;    // [V, D]
  Tensor norm;     // [D]
  Tensor lm_head;  // [V, D] (the embedding when tied)
  std::vector<LayerWeights> layers;
};

}  // namespace smoe
