/**
 * safetensors headers: read and validated before any byte of tensor data is trusted.
 * Layout of a file: u64 little-endian N, N bytes of JSON header, then the data section. Each header entry
 * is { dtype, shape, data_offsets: [begin, end] } relative to the data section.
 */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

import { ModelLoadError } from '../errors.js';
import { isObject, readJsonFile } from './json-file.js';
import { openModelFile } from './open-file.js';

export type StoredDType = 'F32' | 'F16' | 'BF16';

/** Element sizes of every dtype the format defines; smoe computes with the first three. */
const DTYPE_BYTES: Record<string, number> = {
  F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, U64: 8, U32: 4, U16: 2, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};
const COMPUTE_DTYPES = new Set(['F32', 'F16', 'BF16']);
const MAX_HEADER = 100 * 1024 * 1024;

export interface TensorEntry {
  name: string;
  /** Path of the shard holding it. */
  file: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  bytes: number;
}

/** Reads one file's header and checks every entry against the file's real size. */
export async function readSafetensorsHeader(file: string): Promise<TensorEntry[]> {
  const fail = (code: 'SAFETENSORS_HEADER' | 'SAFETENSORS_TRUNCATED' | 'SAFETENSORS_OVERLAP' | 'TENSOR_BOUNDS',
    msg: string, tensor?: string): never => {
    throw new ModelLoadError(code, `${file}: ${msg}`, tensor === undefined ? { file } : { file, tensor });
  };
  let size: number;
  let header: string;
  const fh = await openModelFile(file);
  try {
    size = (await fh.stat()).size;
    if (size < 8) fail('SAFETENSORS_TRUNCATED', `file is ${size} bytes, too short for a safetensors header`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(size - 8)) fail('SAFETENSORS_TRUNCATED', `header length ${n} runs past the end of the file (${size} bytes)`);
    if (n > BigInt(MAX_HEADER)) fail('SAFETENSORS_HEADER', `header length ${n} exceeds ${MAX_HEADER} bytes`);
    const buf = Buffer.alloc(Number(n));
    await fh.read(buf, 0, buf.length, 8);
    header = buf.toString('utf8');
  } finally {
    await fh.close();
  }
  let json: unknown;
  try {
    json = JSON.parse(header);
  } catch (e) {
    return fail('SAFETENSORS_HEADER', `header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) return fail('SAFETENSORS_HEADER', 'header must be a JSON object');
  const dataStart = 8 + Buffer.byteLength(header, 'utf8');
  const dataSize = size - dataStart;
  const entries: TensorEntry[] = [];
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    if (!isObject(v)) fail('SAFETENSORS_HEADER', `entry for tensor ${name} is not an object`, name);
    const e = v as Record<string, unknown>;
    const dtype = e['dtype'];
    const shape = e['shape'];
    const offs = e['data_offsets'];
    if (typeof dtype !== 'string') return fail('SAFETENSORS_HEADER', `tensor ${name} has no dtype`, name);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      return fail('SAFETENSORS_HEADER', `tensor ${name} has an invalid shape ${JSON.stringify(shape)}`, name);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[0] > offs[1])
      return fail('SAFETENSORS_HEADER', `tensor ${name} has invalid data_offsets ${JSON.stringify(offs)}`, name);
    const [b, end] = offs as [number, number];
    if (end > dataSize)
      fail('SAFETENSORS_TRUNCATED', `tensor ${name} ends at data byte ${end} but the data section holds ${dataSize} bytes (truncated file?)`, name);
    const el = DTYPE_BYTES[dtype];
    if (el !== undefined) {
      const want = (shape as number[]).reduce((a, d) => a * d, 1) * el;
      if (want !== end - b)
        fail('TENSOR_BOUNDS', `tensor ${name}: shape ${JSON.stringify(shape)} of ${dtype} needs ${want} bytes, data_offsets span ${end - b}`, name);
    }
    entries.push({ name, file, dtype, shape: shape as number[], offset: dataStart + b, bytes: end - b });
  }
  // Tensors may not share bytes.
  const sorted = [...entries].sort((x, y) => x.offset - y.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!, cur = sorted[i]!;
    if (cur.bytes > 0 && prev.offset + prev.bytes > cur.offset)
      fail('SAFETENSORS_OVERLAP', `tensors ${prev.name} and ${cur.name} overlap`, cur.name);
  }
  return entries;
}

/** Checks that a tensor's dtype is one smoe computes with. */
export function requireComputeDType(t: TensorEntry): StoredDType {
  if (!COMPUTE_DTYPES.has(t.dtype)) {
    throw new ModelLoadError('UNSUPPORTED_DTYPE', `tensor ${t.name} in ${t.file} has dtype ${t.dtype}; smoe supports F32, F16 and BF16`, {
      file: t.file,
      tensor: t.name,
    });
  }
  return t.dtype as StoredDType;
}

/**
 * Every tensor of a model folder: `model.safetensors`, or the shards named by
 * `model.safetensors.index.json` (each tensor must be in the shard the index names).
 */
export async function readTensorIndex(dir: string): Promise<{ files: string[]; tensors: Map<string, TensorEntry> }> {
  const indexFile = join(dir, 'model.safetensors.index.json');
  const single = join(dir, 'model.safetensors');
  const exists = async (p: string) => stat(p).then(() => true, () => false);
  const tensors = new Map<string, TensorEntry>();
  if (await exists(indexFile)) {
    const index = await readJsonFile(indexFile, 'safetensors index');
    const map = isObject(index) ? index['weight_map'] : undefined;
    if (!isObject(map))
      throw new ModelLoadError('INDEX_INVALID', `${indexFile}: missing 'weight_map' object`, { file: indexFile, field: 'weight_map' });
    const shardNames = new Set<string>();
    for (const [name, shard] of Object.entries(map)) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.'))
        throw new ModelLoadError('INDEX_INVALID', `${indexFile}: tensor ${name} maps to an invalid file name ${JSON.stringify(shard)}`, {
          file: indexFile,
          tensor: name,
        });
      shardNames.add(shard);
    }
    const files = [...shardNames].sort().map((s) => join(dir, s));
    const headers = await Promise.all(files.map((f) => readSafetensorsHeader(f)));
    const byFile = new Map<string, Map<string, TensorEntry>>();
    files.forEach((f, i) => byFile.set(basename(f), new Map(headers[i]!.map((t) => [t.name, t]))));
    for (const [name, shard] of Object.entries(map) as Array<[string, string]>) {
      const t = byFile.get(shard)!.get(name);
      if (!t)
        throw new ModelLoadError('TENSOR_MISSING', `tensor ${name} is listed in ${indexFile} but not stored in ${join(dir, shard)}`, {
          file: join(dir, shard),
          tensor: name,
        });
      tensors.set(name, t);
    }
    return { files, tensors };
  }
  if (await exists(single)) {
    for (const t of await readSafetensorsHeader(single)) tensors.set(t.name, t);
    return { files: [single], tensors };
  }
  throw new ModelLoadError('FILE_MISSING', `${dir} holds neither model.safetensors nor model.safetensors.index.json`, {
    file: single,
  });
}
