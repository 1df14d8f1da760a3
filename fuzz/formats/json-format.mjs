// A fuzz format for one JSON file of the model folder: structure-aware mutation (the format's own, or
// mutateJson with its field names), byte-level damage now and then, and sometimes the file removed.
import { baseFile, bytesSegment } from '../base.mjs';
import { mutateJson, mutateJsonFile } from '../mutate-json.mjs';

/** { name, describe, mutate } for `file`, mutated by `mutateDoc(rng, doc)` -> { doc, note }. */
export function jsonFileFormat({ name, file, describe = file, deleteP = 0, textP = 0.1, mutateDoc }) {
  return {
    name,
    describe,
    mutate(rng, base) {
      if (rng.chance(deleteP)) return { files: { [file]: null }, note: `${file} removed` };
      const { bytes, note } = mutateJsonFile(rng, baseFile(base, file).toString('utf8'), { textP, mutateDoc });
      return { files: { [file]: [bytesSegment(bytes)] }, note: `${file}: ${note}` };
    },
  };
}

/** A format for `file` mutated field by field; `dict` lists its known fields. */
export function jsonFormat(name, file, dict, { deleteP = 0.02, stopP } = {}) {
  return jsonFileFormat({ name, file, deleteP, mutateDoc: (rng, doc) => mutateJson(rng, doc, { dict, stopP }) });
}
