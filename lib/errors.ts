/**
 * Every error smoe throws is a `SmoeError` with a stable `code`; loader errors also name the `file`,
 * `tensor` or `field` at fault.
 *
 * @example
 * try { await loadModel(dir); } catch (e) { if (e instanceof SmoeError && e.code === 'TENSOR_MISSING') ... }
 */
export type ErrorCode =
  | 'FILE_MISSING' | 'FILE_OPEN' | 'FILE_MAP' | 'CONFIG_INVALID' | 'UNSUPPORTED_MODEL'
  | 'SAFETENSORS_HEADER' | 'SAFETENSORS_TRUNCATED' | 'SAFETENSORS_OVERLAP' | 'UNSUPPORTED_DTYPE'
  | 'TENSOR_MISSING' | 'TENSOR_SHAPE' | 'TENSOR_BOUNDS' | 'TENSOR_ALIGNMENT' | 'INDEX_INVALID'
  | 'INVALID_ARGUMENT' | 'INVALID_OPTION' | 'TOKEN_OUT_OF_RANGE' | 'EMPTY_INPUT' | 'CONTEXT_OVERFLOW'
  | 'DEVICE_UNAVAILABLE' | 'SIMD_UNSUPPORTED' | 'MODEL_CLOSED' | 'SEQUENCE_DISPOSED' | 'OUT_OF_MEMORY'
  | 'NATIVE_LOAD' | 'INTERNAL' | 'MODEL_REQUIRED'
  | 'TOKENIZER_MISSING' | 'TOKENIZER_INVALID' | 'CHAT_TEMPLATE' | 'CHAT_TEMPLATE_MISSING'
  | 'GGUF_MAGIC' | 'GGUF_VERSION' | 'GGUF_TRUNCATED' | 'GGUF_HEADER' | 'GGUF_DUPLICATE' | 'TENSOR_OVERLAP'
  | 'UNSUPPORTED_QUANT' | 'MODEL_AMBIGUOUS' | 'UNSUPPORTED' | 'SEQUENCE_BUSY' | 'KV_BUDGET';

export interface ErrorDetails {
  file?: string;
  tensor?: string;
  field?: string;
  cause?: unknown;
}

export class SmoeError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly tensor?: string;
  readonly field?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SmoeError';
    this.code = code;
    if (details.file !== undefined) this.file = details.file;
    if (details.tensor !== undefined) this.tensor = details.tensor;
    if (details.field !== undefined) this.field = details.field;
  }
}

/** A checkpoint or config that cannot be used: names the file, tensor or field. */
export class ModelLoadError extends SmoeError {
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.name = 'ModelLoadError';
  }
}

/** A call with bad arguments: wrong types, ids out of range, a context that is too long. */
export class InvalidArgumentError extends SmoeError {
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.name = 'InvalidArgumentError';
  }
}

/** Re-throws an error from the native addon as a SmoeError of the right class, keeping its code. */
export function fromNative(e: unknown): SmoeError {
  if (e instanceof SmoeError) return e;
  const err = e as { code?: unknown; message?: unknown };
  const code = (typeof err?.code === 'string' ? err.code : 'INTERNAL') as ErrorCode;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  const loadCodes: ErrorCode[] = ['FILE_OPEN', 'FILE_MAP', 'TENSOR_BOUNDS', 'TENSOR_SHAPE', 'TENSOR_ALIGNMENT', 'UNSUPPORTED_DTYPE',
    'UNSUPPORTED_QUANT'];
  const argCodes: ErrorCode[] = ['TOKEN_OUT_OF_RANGE', 'EMPTY_INPUT', 'CONTEXT_OVERFLOW', 'INVALID_OPTION'];
  if (loadCodes.includes(code)) return new ModelLoadError(code, message, { cause: e });
  if (argCodes.includes(code)) return new InvalidArgumentError(code, message, { cause: e });
  return new SmoeError(code, message, { cause: e });
}
