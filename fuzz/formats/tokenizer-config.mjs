// tokenizer_config.json with its chat template: special tokens and flags read by lib/tokenizer/, and the
// Jinja template rendered by lib/chat.ts. Templates are mutated as text (snippets spliced in, spans cut or
// repeated) with snippets that loop, recurse, build huge strings or raise.
import { mutateJson } from '../mutate-json.mjs';
import { jsonFileFormat } from './json-format.mjs';

const SNIPPETS = ['{{', '}}', '{%', '%}', '{#', '{% for m in messages %}', '{% endfor %}', '{% if x %}', '{% endif %}', '{% else %}',
  '{{ raise_exception("fuzz") }}', '{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}', '{% for i in range(99999999) %}x{% endfor %}',
  '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
  "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
  '{{ messages[99999] }}', '{{ messages[-1].content }}', '{{ messages | length }}', '{{ 1 / 0 }}', '{{ 1 // 0 }}', '{{ x.y.z }}',
  '{{ messages[0].content | upper | replace("a", "aaaa") }}', '{% set loop_messages = messages * 1000 %}', '{{ "a" ~ 1 }}',
  '{% generation %}', '{% endgeneration %}', '{% break %}', '{% set x = [] %}{% for i in range(1000000) %}{% set _ = x.append(i) %}{% endfor %}',
  '{{ messages | tojson }}', '{{ bos_token * 3 }}', '{% filter upper %}', '{% endfilter %}', '{{ range(10**9) | length }}', '\u0000', '\ud800'];

function mutateTemplate(rng, t) {
  const at = rng.int(t.length + 1);
  const len = rng.int(Math.min(200, t.length - at) + 1);
  switch (rng.int(5)) {
    case 0:
    case 1: {
      const s = rng.pick(SNIPPETS);
      return { t: t.slice(0, at) + s + t.slice(at), note: `inserted ${JSON.stringify(s).slice(0, 60)} at ${at}` };
    }
    case 2:
      return { t: t.slice(0, at) + t.slice(at + len), note: `cut ${len} chars at ${at}` };
    case 3:
      return { t: t.slice(0, at + len) + t.slice(at, at + len).repeat(rng.pick([2, 10, 1000])) + t.slice(at + len), note: `repeated ${len} chars at ${at}` };
    default:
      return { t: rng.pick(SNIPPETS), note: 'replaced by a snippet' };
  }
}

/** Mostly the chat template mutated as text (1-3 edits, sometimes as a named-template list), else the fields. */
function mutateConfig(rng, cfg) {
  if (!rng.chance(0.6))
    return mutateJson(rng, cfg, {
      dict: ['add_bos_token', 'add_eos_token', 'bos_token', 'eos_token', 'unk_token', 'pad_token', 'chat_template', 'added_tokens_decoder',
        'additional_special_tokens', 'model_max_length', 'legacy', 'clean_up_tokenization_spaces', 'spaces_between_special_tokens'],
    });
  const notes = [];
  let t = cfg.chat_template;
  for (let i = 1 + rng.int(3); i > 0; i--) {
    const r = mutateTemplate(rng, t);
    t = r.t;
    notes.push(`chat_template: ${r.note}`);
  }
  cfg.chat_template = rng.chance(0.1) ? [{ name: 'default', template: t }, { name: 'tool_use', template: '{{ x' }] : t;
  return { doc: cfg, note: notes.join('; ') };
}

export default jsonFileFormat({
  name: 'tokenizer-config', file: 'tokenizer_config.json', describe: 'tokenizer_config.json and its chat template', textP: 0.05, mutateDoc: mutateConfig,
});
