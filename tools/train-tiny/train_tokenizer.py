#!/usr/bin/env python3
"""Trains the demo model's tokenizer: a Mistral-style BPE (sentencepiece-like '▁' word marks, byte fallback,
<unk> <s> </s>) of VOCAB_SIZE tokens on corpus/train.txt, with HF tokenizers.

Writes out/tokenizer/{tokenizer.json, tokenizer_config.json}; train.py copies them into the model folder.
Layout of the vocabulary, as Mistral's: 0 <unk>, 1 <s>, 2 </s>, 3..258 the byte tokens <0x00>..<0xFF>, then
the merged pieces. tokenizer_config.json carries the Mixtral-Instruct chat template (copied from
test/fixtures/tiny-mixtral), bos/eos and add_bos_token.

  python3 tools/train-tiny/train_tokenizer.py [--vocab 4096]
"""
import argparse
import json
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

import common

SPECIALS = ['<unk>', '<s>', '</s>']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--vocab', type=int, default=4096)
    ap.add_argument('--limit-alphabet', type=int, default=200, help='characters kept as tokens; rarer ones become bytes')
    args = ap.parse_args()
    train_path, _ = common.ensure_corpus()
    entries = common.read_entries(train_path)

    # 1. Train the merges on words marked with '▁' (as sentencepiece / Mistral do).
    bpe = Tokenizer(models.BPE(unk_token='<unk>', byte_fallback=True, fuse_unk=True))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement='▁', prepend_scheme='first', split=True)
    trainer = trainers.BpeTrainer(
        vocab_size=args.vocab - 256,  # the 256 byte tokens are added below
        min_frequency=2,
        special_tokens=SPECIALS,
        limit_alphabet=args.limit_alphabet,
        show_progress=False,
    )
    bpe.train_from_iterator(entries, trainer=trainer, length=len(entries))
    trained = json.loads(bpe.to_str())

    # 2. Renumber: specials, then the 256 byte tokens, then the learned pieces in their order.
    old = sorted(trained['model']['vocab'].items(), key=lambda kv: kv[1])
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for b in range(256):
        vocab[f'<0x{b:02X}>'] = len(vocab)
    for token, _ in old:
        if token not in vocab:
            vocab[token] = len(vocab)
    merges = trained['model']['merges']

    model = models.BPE(vocab=vocab, merges=[tuple(m.split(' ')) if isinstance(m, str) else tuple(m) for m in merges],
                       unk_token='<unk>', byte_fallback=True, fuse_unk=True)
    tok = Tokenizer(model)
    tok.add_special_tokens(SPECIALS)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement='▁', prepend_scheme='first', split=True)
    tok.decoder = decoders.Sequence([decoders.Replace('▁', ' '), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(' ', 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single='<s> $A', pair='<s> $A <s> $B', special_tokens=[('<s>', 1)])
    assert [tok.token_to_id(t) for t in SPECIALS] == [0, 1, 2], 'special token ids'

    out = common.TOKENIZER_DIR
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, 'tokenizer.json'))

    fixture_cfg = os.path.join(common.REPO, 'test', 'fixtures', 'tiny-mixtral', 'tokenizer_config.json')
    with open(fixture_cfg, encoding='utf-8') as f:
        chat_template = json.load(f)['chat_template']
    special = {str(i): {'content': t, 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False, 'special': True}
               for i, t in enumerate(SPECIALS)}
    config = {
        'add_bos_token': True,
        'add_eos_token': False,
        'added_tokens_decoder': special,
        'bos_token': '<s>',
        'eos_token': '</s>',
        'unk_token': '<unk>',
        'pad_token': None,
        'clean_up_tokenization_spaces': False,
        'model_max_length': 4096,
        'tokenizer_class': 'PreTrainedTokenizerFast',
        'chat_template': chat_template,
    }
    with open(os.path.join(out, 'tokenizer_config.json'), 'w', encoding='utf-8') as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write('\n')

    # 3. Check: round trips, and how many tokens the corpus takes.
    reloaded = Tokenizer.from_file(os.path.join(out, 'tokenizer.json'))
    for s in ['Hello world', 'Der Fuchs springt über den Hund.', '¿Qué es la vida?', 'Così è la vita.', 'In the beginning God', '🦙 λ\n\tx']:
        ids = reloaded.encode(s).ids
        assert ids[0] == 1, ids
        assert reloaded.decode(ids, skip_special_tokens=True) == s, (s, reloaded.decode(ids, skip_special_tokens=True))
    sample = entries[:2000]
    n_tokens = sum(len(e.ids) for e in reloaded.encode_batch(sample, add_special_tokens=False))
    n_chars = sum(len(s) for s in sample)
    print(f'vocab {reloaded.get_vocab_size()} tokens; {n_chars / n_tokens:.2f} characters per token on 2000 training entries -> {out}')


if __name__ == '__main__':
    main()
