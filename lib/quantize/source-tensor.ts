/**
 * A tensor to be written, as the quantizer reads it: its GGUF name and dims, the plain-float type it is
 * stored in at the source, and a reader of whole rows. Rows are the `cols = dims[0]` innermost elements;
 * a tensor of dims [cols, r1, r2] has r1 * r2 rows (an expert stack [D, I, E] is E * I rows of D).
 */
import { open, type FileHandle } from 'node:fs/promises';

import { ModelLoadError } from '../errors.js';
import { ggmlRowBytes, ggmlTypeByName } from '../load/ggml-types.js';

export type PlainType = 'F32' | 'F16' | 'BF16';

export interface SourceTensor {
  name: string;
  dims: number[];
  /** The source's ggml type name (F32, F16, BF16; a quantized type can only be copied as it is). */
  type: string;
  /** The type the tensor is written in when the mix leaves it unquantized (default: `type`). */
  keepAs?: PlainType;
  rows: number;
  cols: number;
  /** Reads must start and end on multiples of this many rows (a head, for permuted q / k). */
  rowAlign: number;
  /** Rows [r0, r1) as raw little-endian `type` data, row after row. */
  read(r0: number, r1: number): Promise<Uint8Array>;
}

export const plainTypeBytes = (t: PlainType): number => (t === 'F32' ? 4 : 2);

/** Open file handles shared by the readers of one conversion, closed together. */
export class FileReader {
  #handles = new Map<string, Promise<FileHandle>>();

  /** `bytes` bytes at `offset` of `file`, in a fresh (aligned) buffer. */
  async read(file: string, offset: number, bytes: number, tensor: string): Promise<Uint8Array> {
    let h = this.#handles.get(file);
    if (!h) {
      h = open(file, 'r');
      this.#handles.set(file, h);
    }
    const fh = await h.catch((e: unknown) => {
      throw new ModelLoadError('FILE_OPEN', `${file}: ${(e as Error).message}`, { file, cause: e });
    });
    const out = new Uint8Array(new ArrayBuffer(bytes));
    let done = 0;
    while (done < bytes) {
      const { bytesRead } = await fh.read(out, done, bytes - done, offset + done);
      if (bytesRead === 0)
        throw new ModelLoadError('TENSOR_BOUNDS', `${file}: tensor ${tensor} ends past the end of the file`, { file, tensor });
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    const all = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.all(all.map((h) => h.then((fh) => fh.close(), () => undefined)));
  }
}

/** A contiguous stored tensor: rows of `cols` values of `type` from byte `offset` of `file`. */
export function storedTensor(reader: FileReader, file: string, offset: number, t: Omit<SourceTensor, 'read' | 'rowAlign'>,
  storedName = t.name): SourceTensor {
  const type = ggmlTypeByName(t.type)!;
  const rowBytes = ggmlRowBytes(type, t.cols);
  return { ...t, rowAlign: 1, read: (r0, r1) => reader.read(file, offset + r0 * rowBytes, (r1 - r0) * rowBytes, storedName) };
}
