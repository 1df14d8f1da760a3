/**
 * `smoe info`: what a model folder or GGUF file holds — architecture, sizes, parameter counts, dtypes (per
 * tensor kind for a GGUF), memory needed, tokenizer, files.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { ggufModel } from '../load/gguf-model.js';
import { ggufSummary, kvCacheBytes, type GgufSummary } from '../load/gguf-summary.js';
import { readGguf } from '../load/gguf.js';
import type { Model } from '../model.js';
import { MODEL_FLAGS, parse } from './args.js';
import { loadFromFlags } from './load.js';

export const INFO_HELP = `Usage: smoe info [--model DIR|FILE.gguf] [--json]

Prints a model's architecture, layer and expert counts, sizes, parameter counts (total and active per
token), dtypes (for a GGUF: the type of each tensor kind), context length, sliding window, the memory it
needs (weights + KV cache at the full context), tokenizer and files.

Options:
  -m, --model DIR              model folder or GGUF file (default: the packaged demo model)
      --json                   print one JSON object instead of text
  -t, --threads N              CPU threads (default: all cores)
      --device D               cpu (default), auto, cuda or cuda:N
  -h, --help                   show this help
`;

const FLAGS = { ...MODEL_FLAGS, json: { type: 'boolean' } } as const;

/** The facts `smoe info` prints. */
export interface ModelFacts {
  architecture: string;
  modelType: string;
  layers: number;
  experts: number;
  expertsPerToken: number;
  hiddenSize: number;
  intermediateSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  totalParams: number;
  activeParams: number;
  dtypes: string[];
  configDtype: string | null;
  contextLength: number;
  slidingWindow: number | null;
  ropeTheta: number;
  tokenizer: { bos: string | null; eos: string | null; chatTemplate: boolean } | null;
  /** Memory to run one sequence at the full context: mapped weights + its KV cache (CPU, fp32). */
  memory: { weightsBytes: number; kvCacheBytes: number; contextLength: number; totalBytes: number };
  /** GGUF files only: format version, file type and the tensor types per kind. */
  gguf: GgufSummary | null;
  files: Array<{ name: string; bytes: number }>;
  totalBytes: number;
  backend: string;
  threads: number;
  simd: string;
}

/** Runs `smoe info`; resolves to the exit code. */
export async function infoCommand(argv: string[]): Promise<number> {
  const v = parse(argv, FLAGS, 'info');
  if (v['help']) {
    process.stdout.write(INFO_HELP);
    return 0;
  }
  const model = await loadFromFlags(v, 'info', v['json'] === true);
  try {
    const facts = await modelFacts(model);
    process.stdout.write(v['json'] ? JSON.stringify(facts, null, 2) + '\n' : formatFacts(facts));
  } finally {
    await model.close();
  }
  return 0;
}

/** Collects the facts of a loaded model (config.json's architecture name is read from its folder). */
export async function modelFacts(model: Model): Promise<ModelFacts> {
  const c = model.config;
  const dir = dirname(model.info.files[0]!);
  let architecture = 'MixtralForCausalLM';
  let summary: GgufSummary | null = null;
  if (model.info.format === 'gguf') {
    const g = await readGguf(model.info.files[0]!);
    const m = ggufModel(g);
    summary = ggufSummary(g, m.fileType, m.expertLayout);
    architecture = `${m.expertLayout === 'dense' ? 'llama' : 'llama (Mixtral)'} GGUF v${g.version}`;
  } else {
    try {
      const raw = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { architectures?: unknown };
      if (Array.isArray(raw.architectures) && typeof raw.architectures[0] === 'string') architecture = raw.architectures[0];
    } catch {
      /* loadModel already read it; keep the default name */
    }
  }
  const files = await Promise.all(model.info.files.map(async (f) => ({ name: basename(f), bytes: (await stat(f)).size })));
  const weightsBytes = summary ? summary.tensorBytes : files.reduce((a, f) => a + f.bytes, 0);
  const kv = kvCacheBytes(c, c.maxPositions);
  const tok = model.hasTokenizer ? model.tokenizer : null;
  return {
    architecture,
    modelType: c.modelType,
    layers: c.numLayers,
    experts: c.numExperts,
    expertsPerToken: c.topK,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    heads: c.numHeads,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    vocabSize: c.vocabSize,
    totalParams: model.info.totalParams,
    activeParams: model.info.activeParams,
    dtypes: [...model.info.dtypes],
    configDtype: c.dtype,
    contextLength: c.maxPositions,
    slidingWindow: c.slidingWindow,
    ropeTheta: c.ropeTheta,
    tokenizer: tok ? { bos: tok.bosToken ?? null, eos: tok.eosToken ?? null, chatTemplate: tok.chatTemplate !== undefined } : null,
    memory: { weightsBytes, kvCacheBytes: kv, contextLength: c.maxPositions, totalBytes: weightsBytes + kv },
    gguf: summary,
    files,
    totalBytes: files.reduce((a, f) => a + f.bytes, 0),
    backend: model.info.backend,
    threads: model.info.threads,
    simd: model.info.simd,
  };
}

/** The text form of `smoe info`. */
export function formatFacts(f: ModelFacts): string {
  const rows: Array<[string, string]> = [
    ['architecture', `${f.architecture} (${f.modelType})`],
    ['layers', String(f.layers)],
    ['experts', `${f.experts} per layer, top-${f.expertsPerToken} per token`],
    ['hidden size', String(f.hiddenSize)],
    ['expert FFN size', String(f.intermediateSize)],
    ['attention heads', `${f.heads} (kv heads ${f.kvHeads}, head dim ${f.headDim})`],
    ['vocabulary', String(f.vocabSize)],
    ['parameters', `${count(f.totalParams)} total, ${count(f.activeParams)} active per token`],
    ['dtypes', f.dtypes.join(', ') + (f.configDtype ? ` (config: ${f.configDtype})` : '')],
    ['context length', String(f.contextLength)],
    ['sliding window', f.slidingWindow === null ? 'none' : String(f.slidingWindow)],
    ['rope theta', String(f.ropeTheta)],
    ['tokenizer', f.tokenizer ? `bos ${f.tokenizer.bos ?? '-'}, eos ${f.tokenizer.eos ?? '-'}, chat template ${f.tokenizer.chatTemplate ? 'yes' : 'no'}` : 'none'],
    ...(f.gguf
      ? [
        ['gguf', `version ${f.gguf.version}, file type ${f.gguf.fileType ?? '-'}, ${f.gguf.expertLayout} experts, alignment ${f.gguf.alignment}`] as [string, string],
        ...f.gguf.kinds.map((k): [string, string] => ['', `${k.kind}  x${k.count}  [${k.dims.join(', ')}]  ` +
          `${Object.entries(k.types).map(([t, n]) => (n === k.count ? t : `${t} x${n}`)).join(', ')}  ${bytes(k.bytes)}`]),
      ]
      : []),
    ['memory', `${bytes(f.memory.totalBytes)}: weights ${bytes(f.memory.weightsBytes)} + KV cache ${bytes(f.memory.kvCacheBytes)} at ${f.memory.contextLength} tokens`],
    ['backend', `${f.backend}, ${f.threads} threads, simd ${f.simd}`],
    ['files', `${f.files.length}, ${bytes(f.totalBytes)}`],
    ...f.files.map((x): [string, string] => ['', `${x.name}  ${bytes(x.bytes)}`]),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, val]) => `${k.padEnd(w)}  ${val}`).join('\n') + '\n';
}

/** 46702792704 -> "46,702,792,704 (46.70B)" */
function count(n: number): string {
  const units: Array<[number, string]> = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']];
  const u = units.find(([d]) => n >= d);
  return `${n.toLocaleString('en-US')}${u ? ` (${(n / u[0]).toFixed(2)}${u[1]})` : ''}`;
}

/** 4096120 -> "3.91 MiB (4,096,120 bytes)" */
function bytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n, i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i < 0 ? `${n} bytes` : `${v.toFixed(2)} ${units[i]} (${n.toLocaleString('en-US')} bytes)`;
}
