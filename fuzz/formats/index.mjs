// The fuzz formats: one module per file kind smoe parses, each { name, describe, mutate(rng, base) } where
// mutate returns { files: { fileName: segments | null }, note } (see base.mjs writeCase), with optionally
// `prepare(base)` (async, run once before its cases) and `exercise` (a name in exercise.mjs EXERCISES; default
// 'model': loadModel and use it). Add a format by adding its module here.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { REPO } from '../base.mjs';
import config from './config.mjs';
import generationConfig from './generation-config.mjs';
import gguf from './gguf.mjs';
import nativeSpec from './native-spec.mjs';
import safetensors from './safetensors.mjs';
import tokenizerConfig from './tokenizer-config.mjs';
import tokenizer from './tokenizer.mjs';

/** GGUF files, once the GGUF reader and writer (lib/load/gguf*.ts, branch gguf) and its test helpers are in. */
export const HAS_GGUF = existsSync(join(REPO, 'dist', 'load', 'gguf-write.js')) && existsSync(join(REPO, 'test', 'gguf-helpers.mjs'));

export const FORMATS = [safetensors, config, tokenizer, tokenizerConfig, generationConfig, nativeSpec, ...(HAS_GGUF ? [gguf] : [])];
