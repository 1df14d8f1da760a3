/**
 * How llama.cpp's convert_hf_to_gguf.py lays a HF Mixtral out as a GGUF file, as data (no I/O): the
 * hyper-parameter keys, the tensor names and ne dims, which HF tensors each GGUF tensor is made of
 * (stacked experts: E of them, expert-major), and the row permutation of q/k (`LlamaModel.permute`:
 * within each head, row 2i + j of the GGUF tensor is HF row j * Hd/2 + i, for RoPE on adjacent pairs).
 * Also the vocabulary as gguf-py's LlamaHfVocab writes it for a BPE-with-byte-fallback tokenizer.json.
 * Used by the tests to build GGUFs from the shared fixtures and by `smoe quantize`.
 */
import type { MixtralConfig } from './config.js';
import { gguf } from './gguf-write.js';
import type { GgufValue } from './gguf.js';

export interface GgufTensorPlan {
  /** GGUF tensor name, e.g. 'blk.0.ffn_gate_exps.weight'. */
  name: string;
  /** ggml ne (innermost first). */
  dims: number[];
  /** HF tensor names whose rows are concatenated, in order (one, or E for stacked experts). */
  sources: string[];
  /** Heads to permute the rows of (q: num heads, k: num kv heads), or 0 for none. */
  permuteHeads: number;
  /** 1-d (norm) tensor: llama.cpp keeps these F32 in quantized files. */
  vector: boolean;
}

/** The GGUF tensors of a Mixtral checkpoint, in the order the converter writes them. */
export function ggufTensorPlan(c: MixtralConfig, layout: 'stacked' | 'per-expert' = 'stacked'): GgufTensorPlan[] {
  const D = c.hiddenSize, I = c.intermediateSize, Q = c.numHeads * c.headDim, KV = c.numKvHeads * c.headDim, E = c.numExperts;
  const t = (name: string, dims: number[], sources: string[], permuteHeads = 0): GgufTensorPlan =>
    ({ name, dims, sources, permuteHeads, vector: dims.length === 1 });
  const plan: GgufTensorPlan[] = [t('token_embd.weight', [D, c.vocabSize], ['model.embed_tokens.weight'])];
  for (let l = 0; l < c.numLayers; l++) {
    const hf = `model.layers.${l}.`, b = `blk.${l}.`, moe = `${hf}block_sparse_moe.`;
    plan.push(
      t(`${b}attn_norm.weight`, [D], [`${hf}input_layernorm.weight`]),
      t(`${b}attn_q.weight`, [D, Q], [`${hf}self_attn.q_proj.weight`], c.numHeads),
      t(`${b}attn_k.weight`, [D, KV], [`${hf}self_attn.k_proj.weight`], c.numKvHeads),
      t(`${b}attn_v.weight`, [D, KV], [`${hf}self_attn.v_proj.weight`]),
      t(`${b}attn_output.weight`, [Q, D], [`${hf}self_attn.o_proj.weight`]),
      t(`${b}ffn_norm.weight`, [D], [`${hf}post_attention_layernorm.weight`]),
      t(`${b}ffn_gate_inp.weight`, [D, E], [`${moe}gate.weight`]),
    );
    const ids = [...Array(E).keys()];
    const ex = (w: string) => ids.map((e) => `${moe}experts.${e}.${w}.weight`);
    if (layout === 'stacked') {
      plan.push(
        t(`${b}ffn_gate_exps.weight`, [D, I, E], ex('w1')),
        t(`${b}ffn_down_exps.weight`, [I, D, E], ex('w2')),
        t(`${b}ffn_up_exps.weight`, [D, I, E], ex('w3')),
      );
    } else {
      for (const e of ids)
        plan.push(
          t(`${b}ffn_gate.${e}.weight`, [D, I], [`${moe}experts.${e}.w1.weight`]),
          t(`${b}ffn_down.${e}.weight`, [I, D], [`${moe}experts.${e}.w2.weight`]),
          t(`${b}ffn_up.${e}.weight`, [D, I], [`${moe}experts.${e}.w3.weight`]),
        );
    }
  }
  plan.push(t('output_norm.weight', [D], ['model.norm.weight']));
  if (!c.tieWordEmbeddings) plan.push(t('output.weight', [D, c.vocabSize], ['lm_head.weight']));
  return plan;
}

/**
 * Rows of one head-stacked q or k matrix reordered as the converter does: `rows` rows of `rowBytes`
 * bytes each (any row-major layout, quantized rows included), `heads` heads of rows / heads rows.
 */
export function permuteQkRows(data: Uint8Array, rows: number, rowBytes: number, heads: number): Uint8Array {
  const hd = rows / heads, half = hd / 2;
  const out = new Uint8Array(data.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const src = h * hd + j * half + i, dst = h * hd + 2 * i + j;
        out.set(data.subarray(src * rowBytes, (src + 1) * rowBytes), dst * rowBytes);
      }
  return out;
}

/** The `llama.*` hyper-parameters convert_hf_to_gguf.py writes for a Mixtral (general.file_type aside). */
export function ggufHyperParameters(c: MixtralConfig, name = 'mixtral'): Record<string, GgufValue> {
  return {
    'general.architecture': gguf.str('llama'),
    'general.name': gguf.str(name),
    'llama.vocab_size': gguf.u32(c.vocabSize),
    'llama.context_length': gguf.u32(c.maxPositions),
    'llama.embedding_length': gguf.u32(c.hiddenSize),
    'llama.block_count': gguf.u32(c.numLayers),
    'llama.feed_forward_length': gguf.u32(c.intermediateSize),
    'llama.rope.dimension_count': gguf.u32(c.headDim),
    'llama.attention.head_count': gguf.u32(c.numHeads),
    'llama.attention.head_count_kv': gguf.u32(c.numKvHeads),
    'llama.attention.layer_norm_rms_epsilon': gguf.f32(c.rmsNormEps),
    'llama.rope.freq_base': gguf.f32(c.ropeTheta),
    ...(c.modelType === 'mixtral' ? { 'llama.expert_count': gguf.u32(c.numExperts), 'llama.expert_used_count': gguf.u32(c.topK) } : {}),
  };
}

/**
 * `tokenizer.*` metadata for a HF tokenizer.json with a BPE + byte-fallback model (Llama / Mistral), as
 * convert_hf_to_gguf.py writes it without a tokenizer.model (`_set_vocab_llama_hf`, gguf-py LlamaHfVocab
 * and SpecialVocab): tokens in id order, score -1000 for every token, type BYTE for `<0xXX>`, CONTROL for
 * the special added tokens (transformers' all_special_ids), USER_DEFINED for other added tokens, NORMAL
 * otherwise; the BOS/EOS/UNK ids and add_bos/add_eos flags of tokenizer_config.json, and its chat template.
 */
export function ggufLlamaHfVocab(
  tokenizerJson: { model: { vocab: Record<string, number> }; added_tokens?: Array<{ id: number; content: string; special?: boolean }> },
  opts: { bosToken?: string; eosToken?: string; unkToken?: string; addBos?: boolean; addEos?: boolean; chatTemplate?: string } = {},
): Record<string, GgufValue> {
  const vocab = tokenizerJson.model.vocab;
  const added = tokenizerJson.added_tokens ?? [];
  const n = Math.max(...Object.values(vocab), ...added.map((t) => t.id)) + 1;
  const tokens = new Array<string>(n);
  for (const [t, id] of Object.entries(vocab)) tokens[id] = t;
  for (const t of added) tokens[t.id] = t.content;
  const special = new Set(added.filter((t) => t.special).map((t) => t.id));
  const types = tokens.map((t, id) => (/^<0x[0-9A-Fa-f]{2}>$/.test(t) ? 6 : special.has(id) ? 3 : added.some((a) => a.id === id) ? 4 : 1));
  const idOf = (s: string | undefined): number | undefined => (s === undefined ? undefined : tokens.indexOf(s));
  const bos = idOf(opts.bosToken), eos = idOf(opts.eosToken), unk = idOf(opts.unkToken);
  const meta: Record<string, GgufValue> = {
    'tokenizer.ggml.model': gguf.str('llama'),
    'tokenizer.ggml.pre': gguf.str('default'),
    'tokenizer.ggml.tokens': gguf.arr('string', tokens),
    'tokenizer.ggml.scores': gguf.arr('f32', new Float32Array(n).fill(-1000)),
    'tokenizer.ggml.token_type': gguf.arr('i32', Int32Array.from(types)),
  };
  if (bos !== undefined && bos >= 0) meta['tokenizer.ggml.bos_token_id'] = gguf.u32(bos);
  if (eos !== undefined && eos >= 0) meta['tokenizer.ggml.eos_token_id'] = gguf.u32(eos);
  if (unk !== undefined && unk >= 0) meta['tokenizer.ggml.unknown_token_id'] = gguf.u32(unk);
  if (opts.addBos !== undefined) meta['tokenizer.ggml.add_bos_token'] = gguf.bool(opts.addBos);
  if (opts.addEos !== undefined) meta['tokenizer.ggml.add_eos_token'] = gguf.bool(opts.addEos);
  if (opts.chatTemplate !== undefined) meta['tokenizer.chat_template'] = gguf.str(opts.chatTemplate);
  return meta;
}
