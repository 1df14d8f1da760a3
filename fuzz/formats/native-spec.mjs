// The load spec the TypeScript loader hands the native addon (config numbers, thread count, file list, and
// for every tensor its file, offset, dtype, rows and cols), mutated and passed to openModel() directly,
// past the TypeScript checks: native/addon/spec.cpp and bind_weights must refuse what does not fit the
// mapped files. Not a file smoe reads, but the native side's own line of defence (run it under
// scripts/asan-test.sh). Exercise 'native-spec' (exercise.mjs) opens it and evaluates a few tokens.
import { basename } from 'node:path';

import { nativeSpecOf } from '../../test/helpers.mjs';
import { mutateJson } from '../mutate-json.mjs';

const SPEC_KEYS = ['vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'numExperts',
  'topK', 'maxPositions', 'slidingWindow', 'rmsNormEps', 'ropeTheta', 'simd', 'device', 'precision', 'file', 'offset',
  'dtype', 'rows', 'cols', 'name'];

let baseSpec = null;

export default {
  name: 'native-spec',
  describe: 'the native load spec (config, tensor files, offsets, dtypes, rows, cols), past the TypeScript checks',
  exercise: 'native-spec',
  /** Builds the spec of the base folder the way loadModel does. */
  async prepare(base) {
    const spec = await nativeSpecOf(base, { device: 'cpu', precision: 'bf16' });
    delete spec.threads;
    baseSpec = JSON.stringify({ ...spec, files: spec.files.map((f) => basename(f)) });
  },
  mutate(rng) {
    const { doc, note } = mutateJson(rng, JSON.parse(baseSpec), { dict: SPEC_KEYS, stopP: 0.1 });
    // One worker thread, always: the thread count is the caller's option (1..1024, checked on both sides),
    // not part of a file, and a thousand spinning workers on a small machine are slow, not broken.
    if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) doc.threads = 1;
    return { files: { 'spec.json': [{ text: JSON.stringify(doc) ?? 'null' }] }, note: `spec: ${note}` };
  },
};
