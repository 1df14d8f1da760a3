// generation_config.json: sampling defaults read by lib/generation-config.ts and used by every generate().
import { jsonFormat } from './json-format.mjs';

export default jsonFormat('generation-config', 'generation_config.json', [
  'temperature', 'top_k', 'top_p', 'min_p', 'do_sample', 'max_new_tokens', 'max_length', 'repetition_penalty', 'eos_token_id',
  'bos_token_id', 'pad_token_id',
], { deleteP: 0.05 });
