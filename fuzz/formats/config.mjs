// config.json: the model's hyper-parameters, checked by lib/load/config.ts and against the weights.
import { jsonFormat } from './json-format.mjs';

export default jsonFormat('config', 'config.json', [
  'architectures', 'model_type', 'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads',
  'num_key_value_heads', 'head_dim', 'num_local_experts', 'num_experts_per_tok', 'max_position_embeddings', 'rms_norm_eps',
  'rope_theta', 'rope_parameters', 'sliding_window', 'tie_word_embeddings', 'bos_token_id', 'eos_token_id', 'dtype', 'torch_dtype',
], { deleteP: 0.01 });
