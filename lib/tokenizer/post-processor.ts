/**
 * Special tokens added around an encoded sequence: the `post_processor`
 * section of tokenizer.json (single-sequence case only), or the
 * `add_bos_token` / `add_eos_token` flags of tokenizer_config.json.
 */
import { JsonContext, asArray, asObject, asString, asUint, typeOf, type JsonObject } from './errors.js';

/** Ids placed before and after the encoded text when special tokens are added. */
export interface SpecialWrap {
  prefix: number[];
  suffix: number[];
}

const NONE: SpecialWrap = { prefix: [], suffix: [] };

function templateWrap(o: JsonObject, ctx: JsonContext): SpecialWrap {
  const specials = o['special_tokens'] === undefined ? {} : asObject(o['special_tokens'], ctx.at('special_tokens'));
  const idsOf = (name: string, c: JsonContext): number[] => {
    const st = specials[name];
    if (st === undefined) throw c.invalid(`special token "${name}" is not listed in special_tokens`);
    const sc = ctx.at('special_tokens').at(name);
    return asArray(asObject(st, sc)['ids'], sc.at('ids')).map((x, i) => asUint(x, sc.at('ids').at(i)));
  };
  const single = asArray(o['single'], ctx.at('single'));
  const wrap: SpecialWrap = { prefix: [], suffix: [] };
  let seenSequence = false;
  single.forEach((piece, i) => {
    const c = ctx.at('single').at(i);
    let special: string | null = null;
    if (typeof piece === 'string') {
      // Short form used by the Python API: "$A", "$A:0", "[CLS]", "[CLS]:0".
      const name = piece.replace(/:\d+$/, '');
      if (name.startsWith('$')) seenSequence = true;
      else special = name;
    } else {
      const p = asObject(piece, c);
      if (p['Sequence'] !== undefined) seenSequence = true;
      else if (p['SpecialToken'] !== undefined) special = asString(asObject(p['SpecialToken'], c.at('SpecialToken'))['id'], c.at('SpecialToken').at('id'));
      else throw c.invalid('expected {"Sequence": ...} or {"SpecialToken": ...}');
    }
    if (special !== null) (seenSequence ? wrap.suffix : wrap.prefix).push(...idsOf(special, c));
  });
  return wrap;
}

function pairId(v: unknown, ctx: JsonContext): number {
  const a = asArray(v, ctx);
  return asUint(a[1], ctx.at(1));
}

/**
 * Read the post-processor of tokenizer.json.
 * Supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel (no ids), Sequence, null.
 */
export function buildPostProcessor(json: unknown, ctx: JsonContext): SpecialWrap {
  if (json === null || json === undefined) return NONE;
  const o = asObject(json, ctx);
  const type = typeOf(o, ctx);
  switch (type) {
    case 'TemplateProcessing':
      return templateWrap(o, ctx);
    case 'BertProcessing':
    case 'RobertaProcessing':
      return { prefix: [pairId(o['cls'], ctx.at('cls'))], suffix: [pairId(o['sep'], ctx.at('sep'))] };
    case 'ByteLevel':
      return NONE;
    case 'Sequence': {
      // Each processor wraps the output of the previous one.
      const list = asArray(o['processors'], ctx.at('processors')).map((p, i) => buildPostProcessor(p, ctx.at('processors').at(i)));
      return list.reduce<SpecialWrap>((acc, w) => ({ prefix: [...w.prefix, ...acc.prefix], suffix: [...acc.suffix, ...w.suffix] }), { prefix: [], suffix: [] });
    }
    default:
      throw ctx.at('type').unsupported(`unsupported post_processor type "${type}"`);
  }
}
