/**
 * A GGUF file as the quantizer's input (what llama-quantize takes): its metadata as it is, its tensors as
 * stored (read lazily, rows at a time) and the model facts the mix rules use.
 */
import { ModelLoadError } from '../errors.js';
import { GgufMetadata, readGguf } from '../load/gguf.js';
import { FileReader, storedTensor, type SourceTensor } from './source-tensor.js';
import type { PlanModel } from './mixes.js';
import type { GgufValue } from '../load/gguf.js';

export interface GgufSource {
  metadata: Map<string, GgufValue>;
  tensors: SourceTensor[];
  model: PlanModel;
  close(): Promise<void>;
}

export async function openGgufSource(file: string): Promise<GgufSource> {
  const g = await readGguf(file);
  const m = new GgufMetadata(g);
  const arch = m.str('general.architecture');
  if (arch !== 'llama')
    throw new ModelLoadError('UNSUPPORTED_MODEL', `${file}: architecture '${arch}' is not supported (smoe quantizes 'llama' GGUFs)`, {
      file, field: 'general.architecture',
    });
  const nHead = m.int('llama.attention.head_count');
  const nHeadKv = m.int('llama.attention.head_count_kv', nHead)!;
  const nLayer = m.int('llama.block_count'), nExpert = m.int('llama.expert_count', 0)!;
  const reader = new FileReader();
  const tensors = g.tensors.map((t) => {
    const cols = t.dims[0]!;
    return storedTensor(reader, file, t.offset, { name: t.name, dims: t.dims, type: t.type.name, rows: t.elements / cols, cols });
  });
  return {
    metadata: new Map(g.metadata),
    tensors,
    model: { nLayer, nExpert, nGqa: nHeadKv > 0 ? nHead / nHeadKv : 0, is70B: nExpert !== 8 && nLayer === 80 && nHead !== nHeadKv },
    close: () => reader.close(),
  };
}
