// Prints llama.cpp's view of a GGUF as JSON: the logits at every position of a fixed prompt (token ids, so no
// tokenizer is involved) and a greedy continuation of 16 tokens. CPU only, 2 threads, F32 KV cache. Built and run by make-quant-fixtures.sh.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "llama.h"

static void print_row(const float* v, int n) {
  std::printf("[");
  for (int i = 0; i < n; ++i) std::printf("%s%.9g", i ? "," : "", v[i]);
  std::printf("]");
}

int main(int argc, char** argv) {
  if (argc < 3) { std::fprintf(stderr, "usage: %s MODEL.gguf ID...\n", argv[0]); return 2; }
  std::vector<llama_token> prompt;
  for (int i = 2; i < argc; ++i) prompt.push_back(llama_token(std::atoi(argv[i])));
  llama_backend_init();
  llama_log_set([](ggml_log_level, const char*, void*) {}, nullptr);
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  llama_model* model = llama_model_load_from_file(argv[1], mp);
  if (!model) { std::fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 128;
  cp.n_batch = 128;
  cp.n_ubatch = 128;
  cp.n_threads = 2;
  cp.n_threads_batch = 2;
  // An F32 KV cache and plain attention: llama.cpp's default F16 cache would round K and V, a difference
  // from smoe (which keeps them in fp32) that has nothing to do with the quantized weights under test.
  cp.type_k = GGML_TYPE_F32;
  cp.type_v = GGML_TYPE_F32;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  llama_context* ctx = llama_init_from_model(model, cp);
  if (!ctx) { std::fprintf(stderr, "cannot make a context\n"); return 1; }
  const int V = llama_vocab_n_tokens(llama_model_get_vocab(model));

  llama_batch batch = llama_batch_init(int(prompt.size()), 0, 1);
  for (size_t i = 0; i < prompt.size(); ++i) {
    batch.token[i] = prompt[i];
    batch.pos[i] = llama_pos(i);
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
  batch.n_tokens = int(prompt.size());
  if (llama_decode(ctx, batch) != 0) { std::fprintf(stderr, "decode failed\n"); return 1; }
  std::printf("{\"vocab\":%d,\"prompt\":[", V);
  for (size_t i = 0; i < prompt.size(); ++i) std::printf("%s%d", i ? "," : "", prompt[i]);
  std::printf("],\"logits\":[");
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (i) std::printf(",");
    print_row(llama_get_logits_ith(ctx, int(i)), V);
  }
  std::printf("],\"greedy\":[");
  const float* last = llama_get_logits_ith(ctx, int(prompt.size()) - 1);
  llama_pos pos = llama_pos(prompt.size());
  for (int step = 0; step < 16; ++step) {
    int best = 0;
    for (int v = 1; v < V; ++v)
      if (last[v] > last[best]) best = v;
    std::printf("%s%d", step ? "," : "", best);
    llama_token tok = best;
    llama_batch one = llama_batch_init(1, 0, 1);
    one.token[0] = tok; one.pos[0] = pos++; one.n_seq_id[0] = 1; one.seq_id[0][0] = 0; one.logits[0] = 1;
    one.n_tokens = 1;
    if (llama_decode(ctx, one) != 0) { std::fprintf(stderr, "decode failed\n"); return 1; }
    llama_batch_free(one);
    last = llama_get_logits_ith(ctx, 0);
  }
  std::printf("]}\n");
  llama_batch_free(batch);
  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
