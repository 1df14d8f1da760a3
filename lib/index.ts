/** smoe: sparse Mixture-of-Experts language models (Mixtral and family) in Node.js. */
export { loadModel, Model, Sequence } from './model.js';
export type { Device, EvalOptions, LoadOptions, ModelInfo, RouterStep, SequenceOptions, SimdLevel } from './model.js';
export type { MixtralConfig } from './load/config.js';
export { InvalidArgumentError, ModelLoadError, SmoeError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { backends } from './backends.js';
export type { Backends } from './backends.js';
