/**
 * config.json -> one normalized Mixtral config. Accepts both styles: transformers-5 (`rope_parameters`,
 * `head_dim: null`) and hub style (top-level `rope_theta`, e.g. Mixtral-8x7B-v0.1).
 */
import { join } from 'node:path';

import { ModelLoadError } from '../errors.js';
import { isObject, readJsonFile } from './json-file.js';

export interface MixtralConfig {
  /** 'mixtral', or 'llama' for a dense GGUF model (run as one expert, see lib/load/gguf-model.ts). */
  modelType: 'mixtral' | 'llama';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  numExperts: number;
  /** Experts chosen per token (`num_experts_per_tok`). */
  topK: number;
  maxPositions: number;
  /** Sliding attention window in tokens, or null for full causal attention. */
  slidingWindow: number | null;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  /** The dtype config.json declares (`dtype` or `torch_dtype`), if any. */
  dtype: string | null;
}

export async function readConfig(dir: string): Promise<MixtralConfig> {
  const file = join(dir, 'config.json');
  return normalizeConfig(await readJsonFile(file, 'model config'), file);
}

export function normalizeConfig(raw: unknown, file: string): MixtralConfig {
  if (!isObject(raw)) throw new ModelLoadError('CONFIG_INVALID', `${file} must hold a JSON object`, { file });
  const bad = (field: string, why: string): never => {
    throw new ModelLoadError('CONFIG_INVALID', `${file}: field '${field}' ${why}`, { file, field });
  };
  const int = (field: string, opts: { min?: number; optional?: number } = {}): number => {
    const v = raw[field];
    if ((v === undefined || v === null) && opts.optional !== undefined) return opts.optional;
    if (typeof v !== 'number' || !Number.isInteger(v)) return bad(field, `must be an integer (got ${JSON.stringify(v)})`);
    if (v < (opts.min ?? 1)) return bad(field, `must be >= ${opts.min ?? 1} (got ${v})`);
    return v;
  };
  const num = (v: unknown, field: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return bad(field, `must be a positive number (got ${JSON.stringify(v)})`);
    return v;
  };

  const modelType = raw['model_type'];
  if (modelType !== 'mixtral') {
    throw new ModelLoadError(
      'UNSUPPORTED_MODEL',
      `${file}: model_type ${JSON.stringify(modelType)} is not supported (smoe runs 'mixtral' models)`,
      { file, field: 'model_type' },
    );
  }
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', { optional: numHeads });
  const headDim = int('head_dim', { optional: hiddenSize / numHeads });
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) bad('head_dim', `must be an even integer (got ${headDim})`);
  if (numHeads % numKvHeads !== 0) bad('num_key_value_heads', `must divide num_attention_heads (${numHeads})`);
  const numExperts = int('num_local_experts');
  const topK = int('num_experts_per_tok');
  if (topK > numExperts) bad('num_experts_per_tok', `must be <= num_local_experts (${numExperts})`);

  // RoPE: transformers-5 nests it in rope_parameters; hub configs have rope_theta at the top level.
  let ropeTheta: number;
  const rp = raw['rope_parameters'];
  if (isObject(rp) && rp['rope_theta'] !== undefined) {
    const type = rp['rope_type'] ?? 'default';
    if (type !== 'default') {
      throw new ModelLoadError('UNSUPPORTED_MODEL', `${file}: rope_type ${JSON.stringify(type)} is not supported`, {
        file,
        field: 'rope_parameters.rope_type',
      });
    }
    ropeTheta = num(rp['rope_theta'], 'rope_parameters.rope_theta');
  } else if (raw['rope_theta'] !== undefined) {
    ropeTheta = num(raw['rope_theta'], 'rope_theta');
  } else {
    ropeTheta = 1e6; // transformers' MixtralConfig default
  }
  if (isObject(raw['rope_scaling'])) {
    throw new ModelLoadError('UNSUPPORTED_MODEL', `${file}: rope_scaling is not supported`, { file, field: 'rope_scaling' });
  }
  const act = raw['hidden_act'] ?? 'silu';
  if (act !== 'silu') {
    throw new ModelLoadError('UNSUPPORTED_MODEL', `${file}: hidden_act ${JSON.stringify(act)} is not supported (silu)`, {
      file,
      field: 'hidden_act',
    });
  }
  const sw = raw['sliding_window'];
  const slidingWindow = sw === undefined || sw === null ? null : int('sliding_window');
  const eps = raw['rms_norm_eps'] === undefined ? 1e-5 : num(raw['rms_norm_eps'], 'rms_norm_eps');
  const tie = raw['tie_word_embeddings'] ?? false;
  if (typeof tie !== 'boolean') bad('tie_word_embeddings', 'must be a boolean');
  const eos = raw['eos_token_id'];
  const bos = raw['bos_token_id'];
  const dtype = raw['dtype'] ?? raw['torch_dtype'];
  return {
    modelType: 'mixtral',
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    numExperts,
    topK,
    maxPositions: int('max_position_embeddings', { optional: 32768 }),
    slidingWindow,
    rmsNormEps: eps,
    ropeTheta,
    tieWordEmbeddings: tie as boolean,
    bosTokenId: typeof bos === 'number' ? bos : null,
    eosTokenId: typeof eos === 'number' || (Array.isArray(eos) && eos.every((x) => typeof x === 'number'))
      ? (eos as number | number[])
      : null,
    dtype: typeof dtype === 'string' ? dtype : null,
  };
}
