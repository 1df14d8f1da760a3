// The fuzz formats: one module per file kind smoe parses, each { name, describe, mutate(rng, base) } where
// mutate returns { files: { fileName: segments | null }, note } (see base.mjs writeCase). Add a format by
// adding its module here.
import config from './config.mjs';
import generationConfig from './generation-config.mjs';
import safetensors from './safetensors.mjs';
import tokenizerConfig from './tokenizer-config.mjs';
import tokenizer from './tokenizer.mjs';

export const FORMATS = [safetensors, config, tokenizer, tokenizerConfig, generationConfig];
