// Checks smoe's tokenizer (lib/tokenizer, from dist/) on the demo tokenizer against the Python encoder
// (bpe.py) that produced the training ids: same ids on every given text, and decode(encode(x)) === x.
//   node tools/train-tiny/check_tokenizer.mjs TOKENIZER_DIR IDS_JSON   (IDS_JSON: [{text, ids}], from check_tokenizer.py)
import { readFileSync } from 'node:fs';
import { loadTokenizer } from '../../dist/index.js';

const [dir, idsFile] = process.argv.slice(2);
const tok = await loadTokenizer(dir);
const cases = JSON.parse(readFileSync(idsFile, 'utf8'));
let idsDiffer = 0, roundTripFails = 0, tokens = 0;
for (const c of cases) {
  const ids = tok.encode(c.text, { addSpecialTokens: false });
  tokens += ids.length;
  if (ids.length !== c.ids.length || ids.some((v, i) => v !== c.ids[i])) {
    if (idsDiffer++ < 3) console.log('ids differ:', JSON.stringify(c.text.slice(0, 80)), ids.slice(0, 12), c.ids.slice(0, 12));
  }
  const back = tok.decode(ids, { skipSpecialTokens: true });
  if (back !== c.text) {
    if (roundTripFails++ < 3) console.log('round trip fails:', JSON.stringify(c.text.slice(0, 80)), JSON.stringify(back.slice(0, 80)));
  }
}
console.log(`smoe tokenizer: ${cases.length} texts, ${tokens} tokens; ids differ from Python on ${idsDiffer}; decode(encode(x)) !== x on ${roundTripFails}`);
process.exit(idsDiffer || roundTripFails ? 1 : 0);
