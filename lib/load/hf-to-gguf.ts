/**
 * How llama.cpp's convert_hf_to_gguf.py lays a HF Mixtral out as a GGUF file, as data (no I/O): the
 * hyper-parameter keys, the tensor names and ne dims, which HF tensors each GGUF tensor is made of
 * (stacked experts: E of them, expert-major), and the row permutation of q/k (`LlamaModel.permute`:
 * within each head, row 2i + j of the GGUF tensor is HF row j * Hd/2 + i, for RoPE on adjacent pairs).
 * Also the vocabulary as gguf-py's LlamaHfVocab + SpecialVocab write it for a BPE-with-byte-fallback
 * tokenizer.json.
 * Used by the tests to build GGUFs from the shared fixtures and by `smoe quantize`.
 */
import { ModelLoadError } from '../errors.js';
import type { MixtralConfig } from './config.js';
import { isObject } from './json-file.js';
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

/** What ggufHyperParameters adds beyond the config. */
export interface HyperParameterOptions {
  /** general.size_label (the converter derives it from the parameter counts). */
  sizeLabel?: string;
  /** Write llama.attention.key_length / value_length: the converter does when config.json sets head_dim. */
  headDimKeys?: boolean;
  /** general.file_type (0: all F32). */
  fileType?: number;
}

/**
 * The general.* and `llama.*` keys convert_hf_to_gguf.py writes for a Mixtral (LlamaModel), in its order,
 * general.file_type and general.quantization_version included.
 */
export function ggufHyperParameters(c: MixtralConfig, name = 'mixtral', opts: HyperParameterOptions = {}): Record<string, GgufValue> {
  return {
    'general.architecture': gguf.str('llama'),
    'general.type': gguf.str('model'),
    'general.name': gguf.str(name),
    ...(opts.sizeLabel !== undefined ? { 'general.size_label': gguf.str(opts.sizeLabel) } : {}),
    'llama.block_count': gguf.u32(c.numLayers),
    'llama.context_length': gguf.u32(c.maxPositions),
    'llama.embedding_length': gguf.u32(c.hiddenSize),
    'llama.feed_forward_length': gguf.u32(c.intermediateSize),
    'llama.attention.head_count': gguf.u32(c.numHeads),
    'llama.attention.head_count_kv': gguf.u32(c.numKvHeads),
    'llama.rope.freq_base': gguf.f32(c.ropeTheta),
    'llama.attention.layer_norm_rms_epsilon': gguf.f32(c.rmsNormEps),
    ...(c.modelType === 'mixtral' ? { 'llama.expert_count': gguf.u32(c.numExperts), 'llama.expert_used_count': gguf.u32(c.topK) } : {}),
    ...(opts.headDimKeys ? { 'llama.attention.key_length': gguf.u32(c.headDim), 'llama.attention.value_length': gguf.u32(c.headDim) } : {}),
    'general.file_type': gguf.u32(opts.fileType ?? 0),
    'llama.vocab_size': gguf.u32(c.vocabSize),
    'llama.rope.dimension_count': gguf.u32(c.headDim),
    'general.quantization_version': gguf.u32(2),
  };
}

const TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4, TOKEN_BYTE = 6;
const SPECIAL_TYPES = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const;

type Json = Record<string, unknown>;

/** The content of a tokenizer_config.json token entry (a string or { content }). */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v['content'] === 'string') return v['content'];
  return undefined;
}

/**
 * `tokenizer.*` metadata (and tokenizer.chat_template) as convert_hf_to_gguf.py writes it for a HF folder with
 * a tokenizer.json whose model is BPE with byte fallback (Llama / Mistral / Mixtral) and no tokenizer.model:
 * its `_set_vocab_llama_hf` path (gguf-py LlamaHfVocab) then gguf-py's SpecialVocab, in the converter's key
 * order: tokenizer.ggml.add_space_prefix (when tokenizer_config.json sets add_prefix_space), model 'llama',
 * pre 'default', tokens (base vocabulary by id, then the added tokens past it), scores (all -1000),
 * token_type (BYTE for <0xNN>, CONTROL for transformers' all_special_tokens, USER_DEFINED for other added
 * tokens, NORMAL otherwise), the special token ids (tokenizer_config.json, then config.json's *_token_id),
 * add_bos / add_sep / add_eos (the post-processor's template, then tokenizer_config.json) and the chat
 * template. `file` names tokenizer.json in errors (TOKENIZER_INVALID).
 */
export function ggufLlamaHfVocab(tj: Json, cfg: Json | null, modelCfg: Json = {}, file = 'tokenizer.json'): Record<string, GgufValue> {
  const out: Record<string, GgufValue> = {};
  const bad = (why: string): never => {
    throw new ModelLoadError('TOKENIZER_INVALID', `${file}: ${why}`, { file });
  };
  const model = isObject(tj['model']) ? tj['model'] : bad('no model object');
  const decoder = isObject(tj['decoder']) ? tj['decoder'] : {};
  if (model['type'] !== 'BPE' || model['byte_fallback'] !== true || decoder['type'] !== 'Sequence')
    bad('smoe converts the SentencePiece-style byte-fallback BPE vocabulary of Llama / Mistral / Mixtral (tokenizer.ggml.model llama) only');
  const vocab = isObject(model['vocab']) ? model['vocab'] : bad('model.vocab is not an object');
  const added = Array.isArray(tj['added_tokens']) ? (tj['added_tokens'] as Json[]) : [];

  if (cfg && typeof cfg['add_prefix_space'] === 'boolean') out['tokenizer.ggml.add_space_prefix'] = gguf.bool(cfg['add_prefix_space']);

  // The base vocabulary by id, then the added tokens past it (transformers' get_added_vocab, by id).
  const baseSize = Object.keys(vocab).length;
  const byId: string[] = new Array(baseSize);
  for (const [tok, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= baseSize || byId[id] !== undefined)
      bad(`model.vocab id ${JSON.stringify(id)} of ${JSON.stringify(tok)} is not a unique id below ${baseSize}`);
    byId[id as number] = tok;
  }
  const addedPast = added
    .filter((a) => typeof a['content'] === 'string' && typeof a['id'] === 'number' && (a['id'] as number) >= baseSize)
    .sort((a, b) => (a['id'] as number) - (b['id'] as number));
  addedPast.forEach((a, i) => {
    if (a['id'] !== baseSize + i) bad(`added token ids past the vocabulary are not contiguous at ${JSON.stringify(a['content'])}`);
  });
  // transformers' all_special_tokens: the named special tokens of tokenizer_config.json and its additional ones.
  const allVocab = new Map<string, number>(Object.entries(vocab) as Array<[string, number]>);
  for (const a of added) if (typeof a['content'] === 'string') allVocab.set(a['content'], a['id'] as number);
  const specialNames: string[] = [];
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
    const c = tokenContent(cfg?.[key]);
    if (c !== undefined && !specialNames.includes(c)) specialNames.push(c);
  }
  for (const v of (Array.isArray(cfg?.['additional_special_tokens']) ? cfg['additional_special_tokens'] : []) as unknown[]) {
    const c = tokenContent(v);
    if (c !== undefined && !specialNames.includes(c)) specialNames.push(c);
  }
  const specialIds = new Set(specialNames.filter((t) => allVocab.has(t)).map((t) => allVocab.get(t)!));

  const tokens: string[] = [], types: number[] = [];
  for (let id = 0; id < baseSize; id++) {
    const t = byId[id]!;
    tokens.push(t);
    types.push(/^<0x[0-9A-Fa-f]{2}>$/.test(t) ? TOKEN_BYTE : specialIds.has(id) ? TOKEN_CONTROL : TOKEN_NORMAL);
  }
  for (const a of addedPast) {
    const t = a['content'] as string;
    tokens.push(t);
    types.push(specialNames.includes(t) ? (specialIds.has(allVocab.get(t)!) ? TOKEN_CONTROL : TOKEN_NORMAL) : TOKEN_USER_DEFINED);
  }
  out['tokenizer.ggml.model'] = gguf.str('llama');
  out['tokenizer.ggml.pre'] = gguf.str('default');
  out['tokenizer.ggml.tokens'] = gguf.arr('string', tokens);
  out['tokenizer.ggml.scores'] = gguf.arr('f32', new Float32Array(tokens.length).fill(-1000));
  out['tokenizer.ggml.token_type'] = gguf.arr('i32', Int32Array.from(types));

  for (const [k, v] of specialVocab(tj, cfg, modelCfg, tokens.length, added)) out[k] = v;
  return out;
}

/** gguf-py SpecialVocab for a tokenizer.json + tokenizer_config.json + config.json: ids, add_* flags, template. */
function specialVocab(tj: Json, cfgIn: Json | null, modelCfg: Json, nVocab: number, added: Json[]): Array<[string, GgufValue]> {
  const cfg: Json | null = cfgIn ? { ...cfgIn } : null;
  const ids = new Map<string, number>();
  const add = new Map<string, boolean>();
  const setId = (typ: string, id: unknown): void => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= nVocab || ids.has(typ)) return;
    ids.set(typ, id);
  };
  let bos = tokenContent(cfg?.['bos_token']), eos = tokenContent(cfg?.['eos_token']);
  let cls = tokenContent(cfg?.['cls_token']), sep = tokenContent(cfg?.['sep_token']);
  if (!bos && cls && cfg) { cfg['bos_token'] = cls; bos = cls; }
  if (!eos && sep && cfg) { cfg['eos_token'] = sep; eos = sep; }
  const post = isObject(tj['post_processor']) ? tj['post_processor'] : null;
  const processors = post ? (Array.isArray(post['processors']) ? (post['processors'] as Json[]) : [post]) : [];
  for (const p of processors) {
    if (p['type'] === 'RobertaProcessing') {
      add.set('bos', true); add.set('eos', true); add.set('sep', true);
      continue;
    }
    if (p['type'] !== 'TemplateProcessing') continue;
    const single = Array.isArray(p['single']) ? (p['single'] as Json[]) : [];
    const pair = Array.isArray(p['pair']) ? (p['pair'] as Json[]) : [];
    const specialOf = (e: Json | undefined): string | undefined => {
      const s = e && isObject(e['SpecialToken']) ? e['SpecialToken'] : undefined;
      return s && typeof s['id'] === 'string' ? s['id'] : undefined;
    };
    let first: string | undefined, last: string | undefined;
    if (single.length > 1) {
      first = specialOf(single[0]);
      if (first) {
        if (!cfg) bos = first;
        else if (first !== bos && first !== cls) {
          if (!bos) { cfg['bos_token'] = first; bos = first; }
          if (!cls) { cfg['cls_token'] = first; cls = first; }
        }
        add.set('bos', first === bos || first === cls);
      }
      last = specialOf(single[single.length - 1]);
      if (last) {
        if (!cfg) eos = last;
        else if (last !== eos) { cfg['eos_token'] = last; eos = last; }
        add.set('eos', last === eos);
      }
    }
    if (pair.length) {
      const start = first && specialOf(pair[0]) === first ? 1 : 0;
      const stop = last && specialOf(pair[pair.length - 1]) === last ? pair.length - 1 : pair.length;
      let mid = pair.slice(start, stop);
      const seqId = (e: Json | undefined) => (e && isObject(e['Sequence']) ? e['Sequence']['id'] : undefined);
      if (mid.length && seqId(mid[0]) === 'A' && seqId(mid[mid.length - 1]) === 'B' && (mid = mid.slice(1, -1)).length) {
        let addSep = false;
        const e0 = specialOf(mid[0]);
        if (e0 && (e0 === sep || e0 === eos) && !last) addSep = true;
        if (mid.length === 2) {
          const e1 = specialOf(mid[1]);
          if (e1 && (e1 === sep || e1 === eos)) addSep = true;
        }
        add.set('sep', addSep);
        if (addSep && !sep && cfg) cfg['sep_token'] = eos;
      }
    }
  }
  let template: unknown = null;
  if (cfg) {
    template = cfg['chat_template'] ?? null;
    for (const typ of SPECIAL_TYPES) {
      const a = cfg[`add_${typ}_token`];
      if (typeof a === 'boolean') add.set(typ, a);
      const content = tokenContent(cfg[`${typ}_token`]);
      if (content === undefined) continue;
      setId(typ, added.find((t) => t['content'] === content)?.['id']);
    }
  }
  for (const typ of SPECIAL_TYPES) setId(typ, modelCfg[`${typ}_token_id`]);

  const keyOf: Record<string, string> = {
    bos: 'bos_token_id', eos: 'eos_token_id', unk: 'unknown_token_id', sep: 'seperator_token_id',
    pad: 'padding_token_id', mask: 'mask_token_id',
  };
  // gguf-py has no writer for a cls id nor for add_* flags other than these (it skips them with a warning).
  const addKeys = new Set(['bos', 'eos', 'sep']);
  const out: Array<[string, GgufValue]> = [];
  for (const [typ, id] of ids) if (keyOf[typ]) out.push([`tokenizer.ggml.${keyOf[typ]}`, gguf.u32(id)]);
  for (const [typ, v] of add) if (addKeys.has(typ)) out.push([`tokenizer.ggml.add_${typ}_token`, gguf.bool(v)]);
  if (typeof template === 'string') out.push(['tokenizer.chat_template', gguf.str(template)]);
  return out;
}
