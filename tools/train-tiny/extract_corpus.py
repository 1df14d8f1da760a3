#!/usr/bin/env python3
"""Builds the demo model's training corpus from Debian's fortune files and the King James Bible.

Needs (Debian): apt-get install -y fortunes fortunes-de fortunes-es fortunes-it bible-kjv-text
(Debian has no French fortunes package.) Python 3 standard library only.

Reads
  en   /usr/share/games/fortunes/*            (English fortunes; links into it/ are Italian and skipped here)
  de   /usr/share/games/fortunes/de/*         (fortunes-de)
  es   /usr/share/games/fortunes/es/*         (fortunes-es)
  it   /usr/share/games/fortunes/it/*         (fortunes-it)
  kjv  the `bible` program of bible-kjv       (English, King James Version, in passages of up to 10 verses)
Offensive files (off/ folders, and any file whose .dat header says it is rot13-encoded) are skipped, as are
ASCII-art collections. Entries (separated by '%' lines) are cleaned (overstrikes, escape sequences, tabs,
trailing spaces), deduplicated, shuffled with a fixed seed and split 95/5 per language into

  corpus/train.txt, corpus/heldout.txt   entries separated by a line holding only '%'
  corpus/stats.json                      bytes and entries per language and split

and, with --archive, corpus.tar.xz holding the three files.

  python3 tools/train-tiny/extract_corpus.py [--out tools/train-tiny/corpus] [--seed 1234] [--archive]
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tarfile

FORTUNES = '/usr/share/games/fortunes'
LANG_DIRS = {'en': FORTUNES, 'de': os.path.join(FORTUNES, 'de'), 'es': os.path.join(FORTUNES, 'es'), 'it': os.path.join(FORTUNES, 'it')}
# Collections that are pictures, not text.
SKIP_NAMES = {'art', 'ascii-art', 'asciiart', 'banner'}
STR_ROTATED = 0x4  # strfile flag: the entries are rot13-encoded (offensive fortunes)
HELDOUT_SHARE = 0.05
MAX_ENTRY_CHARS = 4000
from common import SEPARATOR  # noqa: E402  (the corpus format, shared with the training scripts)


def is_rotated(path):
    """Whether strfile's .dat index next to `path` marks the file as rot13 (fortune -o files)."""
    dat = path + '.dat'
    if not os.path.exists(dat):
        return False
    with open(dat, 'rb') as f:
        head = f.read(20)
    if len(head) < 20:
        return False
    _version, _count, _longest, _shortest, flags = struct.unpack('>IIIII', head)
    return bool(flags & STR_ROTATED)


def fortune_files(lang):
    """The fortune files of one language: real text files in its folder, each file once."""
    root = LANG_DIRS[lang]
    if not os.path.isdir(root):
        return []
    seen, out = set(), []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        real = os.path.realpath(path)
        base = name[:-len('.fortunes')] if name.endswith('.fortunes') else name
        if name.endswith('.u8'):
            base = base[:-3]
        if (name.endswith('.dat') or not os.path.isfile(real) or os.path.dirname(real) != os.path.realpath(root)
                or base in SKIP_NAMES or real in seen or is_rotated(real)):
            continue
        if name.endswith('.u8') and os.path.exists(os.path.join(root, name[:-3])):
            # the same collection in UTF-8; prefer it over the plain file
            plain = os.path.realpath(os.path.join(root, name[:-3]))
            if plain in seen:
                continue
            seen.add(plain)
        elif os.path.exists(path + '.u8') and os.path.realpath(path + '.u8') != real:
            continue  # the .u8 twin is read instead
        seen.add(real)
        out.append(real)
    return out


def decode(raw):
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        return raw.decode('latin-1')


ESCAPES = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b.')
OVERSTRIKE = re.compile(r'.\x08')
CONTROLS = re.compile(r'[\x00-\x08\x0b-\x1f\x7f]')


def clean(entry):
    """One entry's text cleaned; None when it is not worth keeping (empty, art, huge)."""
    s = entry.replace('\r\n', '\n').replace('\r', '\n')
    s = ESCAPES.sub('', s)
    while OVERSTRIKE.search(s):
        s = OVERSTRIKE.sub('', s)
    s = s.expandtabs(4)
    s = CONTROLS.sub('', s)
    s = s.replace('\u00a0', ' ')
    lines = [line.rstrip() for line in s.split('\n')]
    s = '\n'.join(lines).strip('\n')
    s = re.sub(r'\n{3,}', '\n\n', s)
    if not s.strip() or len(s) > MAX_ENTRY_CHARS:
        return None
    letters = sum(ch.isalpha() for ch in s)
    if letters < 0.5 * len(s.replace(' ', '').replace('\n', '')) or letters < 8:
        return None  # pictures, tables of symbols, fragments
    if s.strip() == '%':
        return None
    return s


def fortune_entries(path):
    with open(path, 'rb') as f:
        text = decode(f.read())
    out = []
    for raw in re.split(r'\n%+\n|\n%+$|^%+\n', text):
        e = clean(raw)
        if e is not None:
            out.append(e)
    return out


def bible_entries():
    """The KJV in passages of up to 10 verses: 'Genesis 1:1-10' then one verse a line."""
    exe = shutil.which('bible')
    if exe is None:
        print('note: the `bible` program (bible-kjv) is missing; the corpus has no KJV text', file=sys.stderr)
        return []
    out = subprocess.run([exe, '-l0', 'Gen1:1-Rev22:21'], check=True, capture_output=True).stdout.decode('utf-8', 'replace')
    entries, book, verses = [], None, []

    def flush():
        for i in range(0, len(verses), 10):
            group = verses[i:i + 10]
            head = f'{book}:{group[0][0]}' + (f'-{group[-1][0]}' if len(group) > 1 else '')
            entries.append(head + '\n' + '\n'.join(f'{v} {t}' for v, t in group))

    for line in out.split('\n'):
        m = re.match(r'^\s+(\d+) (.*)$', line)
        if m and book is not None:
            verses.append((m.group(1), m.group(2).strip()))
        elif line.strip():
            if book is not None and verses:
                flush()
            book, verses = line.strip(), []
    if book is not None and verses:
        flush()
    return entries


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=os.path.join(here, 'corpus'))
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--archive', action='store_true', help='also write corpus.tar.xz next to the output folder')
    args = ap.parse_args()

    sources = {}
    for lang in ('en', 'de', 'es', 'it'):
        files = fortune_files(lang)
        entries = [e for f in files for e in fortune_entries(f)]
        sources[lang] = {'files': [os.path.relpath(f, FORTUNES) for f in files], 'entries': entries}
    sources['kjv'] = {'files': ['bible-kjv (Gen1:1-Rev22:21)'], 'entries': bible_entries()}

    rng = random.Random(args.seed)
    seen = set()
    train, heldout, stats = [], [], {'seed': args.seed, 'heldout_share': HELDOUT_SHARE, 'separator': '%', 'languages': {}}
    for lang, src in sources.items():
        unique = []
        for e in src['entries']:
            h = hashlib.sha1(e.encode('utf-8')).digest()
            if h not in seen:
                seen.add(h)
                unique.append(e)
        rng.shuffle(unique)
        n_held = max(1, round(len(unique) * HELDOUT_SHARE)) if unique else 0
        held, tr = unique[:n_held], unique[n_held:]
        heldout += [(lang, e) for e in held]
        train += [(lang, e) for e in tr]
        stats['languages'][lang] = {
            'files': len(src['files']),
            'train': {'entries': len(tr), 'bytes': sum(len(e.encode('utf-8')) + 3 for e in tr)},
            'heldout': {'entries': len(held), 'bytes': sum(len(e.encode('utf-8')) + 3 for e in held)},
        }
    # Mix the languages; the order is part of the corpus (fixed by the seed).
    rng.shuffle(train)
    rng.shuffle(heldout)
    os.makedirs(args.out, exist_ok=True)
    for name, part in (('train', train), ('heldout', heldout)):
        path = os.path.join(args.out, f'{name}.txt')
        with open(path, 'w', encoding='utf-8', newline='\n') as f:
            f.write(SEPARATOR.join(e for _, e in part) + '\n')
        stats[name] = {'entries': len(part), 'bytes': os.path.getsize(path)}
        # The language of each entry, one per line in file order (for per-language losses).
        with open(os.path.join(args.out, f'{name}-languages.txt'), 'w', encoding='utf-8', newline='\n') as f:
            f.write(''.join(f'{lang}\n' for lang, _ in part))
    stats['sources'] = {lang: src['files'] for lang, src in sources.items()}
    with open(os.path.join(args.out, 'stats.json'), 'w', encoding='utf-8') as f:
        json.dump(stats, f, indent=2, ensure_ascii=False)
        f.write('\n')
    if args.archive:
        tar_path = os.path.join(os.path.dirname(os.path.abspath(args.out)), 'corpus.tar.xz')
        with tarfile.open(tar_path, 'w:xz', preset=9) as tar:
            for name in ('train.txt', 'heldout.txt', 'stats.json'):
                tar.add(os.path.join(args.out, name), arcname=f'corpus/{name}', filter=_reproducible)
        print(f'wrote {tar_path} ({os.path.getsize(tar_path):,} bytes)')
    for lang, s in stats['languages'].items():
        print(f"{lang:4} train {s['train']['entries']:6} entries {s['train']['bytes']:10,} bytes | "
              f"heldout {s['heldout']['entries']:5} entries {s['heldout']['bytes']:9,} bytes")
    print(f"train.txt {stats['train']['bytes']:,} bytes, heldout.txt {stats['heldout']['bytes']:,} bytes -> {args.out}")


def _reproducible(info):
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, '', ''
    return info


if __name__ == '__main__':
    main()
