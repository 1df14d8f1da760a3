// A fuzz format for one JSON file of the model folder: structure-aware mutation with the format's field names.
import { baseFile, bytesSegment } from '../base.mjs';
import { mutateJsonFile } from '../mutate-json.mjs';

/** { name, describe, mutate } for `file`; `dict` lists its known fields; `deleteP` the chance the file is removed. */
export function jsonFormat(name, file, dict, { deleteP = 0.02, stopP } = {}) {
  return {
    name,
    describe: file,
    mutate(rng, base) {
      if (rng.chance(deleteP)) return { files: { [file]: null }, note: `${file} removed` };
      const { bytes, note } = mutateJsonFile(rng, baseFile(base, file).toString('utf8'), { dict, stopP });
      return { files: { [file]: [bytesSegment(bytes)] }, note: `${file}: ${note}` };
    },
  };
}
