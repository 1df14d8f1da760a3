/**
 * The tokenizer metadata llama.cpp's converter (convert_hf_to_gguf.py) writes for a Mistral-style HF folder
 * (tokenizer.json with a byte-fallback BPE model, no tokenizer.model): its `_set_vocab_llama_hf` path
 * (gguf-py LlamaHfVocab) and gguf-py's SpecialVocab, in the converter's key order:
 *   tokenizer.ggml.add_space_prefix (when tokenizer_config.json sets add_prefix_space),
 *   tokenizer.ggml.model 'llama', tokenizer.ggml.pre 'default', tokens (base vocabulary by id, then the
 *   added tokens past it), scores (all -1000), token_type (BYTE for <0xNN>, CONTROL for special tokens,
 *   USER_DEFINED for other added tokens, NORMAL otherwise), the special token ids, add_bos/add_sep/add_eos
 *   and tokenizer.chat_template.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { ModelLoadError } from '../errors.js';
import { isObject } from '../load/json-file.js';
import { gguf } from '../load/gguf-write.js';
import type { GgufValue } from '../load/gguf.js';

const TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4, TOKEN_BYTE = 6;
const SPECIAL_TYPES = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const;

type Json = Record<string, unknown>;

async function readJsonIfPresent(file: string): Promise<Json | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ModelLoadError('FILE_OPEN', `${file}: ${(e as Error).message}`, { file, cause: e });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!isObject(v)) throw new Error('not a JSON object');
    return v;
  } catch (e) {
    throw new ModelLoadError('TOKENIZER_INVALID', `${file}: ${(e as Error).message}`, { file, cause: e });
  }
}

/** The content of a tokenizer_config.json token entry (a string or { content }). */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v['content'] === 'string') return v['content'];
  return undefined;
}

/**
 * The tokenizer.* metadata (and tokenizer.chat_template) for the folder, or an empty map when it has no
 * tokenizer.json. Throws TOKENIZER_INVALID for a tokenizer.json this path cannot convert.
 */
export async function hfVocabMetadata(dir: string): Promise<Map<string, GgufValue>> {
  const out = new Map<string, GgufValue>();
  const tjFile = join(dir, 'tokenizer.json');
  const tj = await readJsonIfPresent(tjFile);
  const cfg = await readJsonIfPresent(join(dir, 'tokenizer_config.json'));
  const modelCfg = (await readJsonIfPresent(join(dir, 'config.json'))) ?? {};
  if (!tj) return out;
  const bad = (why: string): never => {
    throw new ModelLoadError('TOKENIZER_INVALID', `${tjFile}: ${why}`, { file: tjFile });
  };
  const model = isObject(tj['model']) ? tj['model'] : bad('no model object');
  const decoder = isObject(tj['decoder']) ? tj['decoder'] : {};
  if (model['type'] !== 'BPE' || model['byte_fallback'] !== true || decoder['type'] !== 'Sequence')
    bad('smoe converts the SentencePiece-style byte-fallback BPE vocabulary of Llama / Mistral / Mixtral (tokenizer.ggml.model llama) only');
  const vocab = isObject(model['vocab']) ? model['vocab'] : bad('model.vocab is not an object');
  const added = Array.isArray(tj['added_tokens']) ? (tj['added_tokens'] as Json[]) : [];

  if (cfg && typeof cfg['add_prefix_space'] === 'boolean') out.set('tokenizer.ggml.add_space_prefix', gguf.bool(cfg['add_prefix_space']));

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
  out.set('tokenizer.ggml.model', gguf.str('llama'));
  out.set('tokenizer.ggml.pre', gguf.str('default'));
  out.set('tokenizer.ggml.tokens', gguf.arr('string', tokens));
  out.set('tokenizer.ggml.scores', gguf.arr('f32', new Float32Array(tokens.length).fill(-1000)));
  out.set('tokenizer.ggml.token_type', gguf.arr('i32', Int32Array.from(types)));

  for (const [k, v] of specialVocab(tj, cfg, modelCfg, tokens.length, added)) out.set(k, v);
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

/** True when the folder has a tokenizer.json (the vocabulary this module converts). */
export async function hasHfTokenizer(dir: string): Promise<boolean> {
  return stat(join(dir, 'tokenizer.json')).then(() => true, () => false);
}
