// smoe's perplexity on given windows of token ids (from eval_ppl.py), per group, with a given experts-per-token.
//   node tools/train-tiny/smoe_ppl.mjs MODEL_DIR WINDOWS_JSON [EXPERTS_PER_TOKEN]
// WINDOWS_JSON: {"groups": {name: [[ids...], ...]}}. Prints {name: {mean_nll, perplexity, windows}} as JSON.
// The loss of a window is the mean NLL of its tokens 2..L given the ones before (tools/train-tiny/common.py).
import { readFileSync } from 'node:fs';
import { loadModel } from '../../dist/index.js';

const [dir, file, k] = process.argv.slice(2);
const { groups } = JSON.parse(readFileSync(file, 'utf8'));
const model = await loadModel(dir, k ? { expertsPerToken: Number(k) } : {});
const V = model.config.vocabSize;
const out = {};
try {
  for (const [name, windows] of Object.entries(groups)) {
    let total = 0;
    for (const ids of windows) {
      const logits = await model.logits(ids, { allLogits: true });
      let nll = 0;
      for (let p = 0; p < ids.length - 1; p++) {
        const row = logits.subarray(p * V, (p + 1) * V);
        let mx = -Infinity;
        for (const v of row) mx = Math.max(mx, v);
        let s = 0;
        for (const v of row) s += Math.exp(v - mx);
        nll += mx + Math.log(s) - row[ids[p + 1]];
      }
      total += nll / (ids.length - 1);
    }
    const mean = total / windows.length;
    out[name] = { mean_nll: mean, perplexity: Math.exp(mean), windows: windows.length };
  }
} finally {
  await model.close();
}
console.log(JSON.stringify(out));
