"""What the demo model's scripts share: paths, reading the corpus, encoding it, and the held-out windows.

The held-out windows are the evaluation protocol, used the same way by train.py (the loss curves),
make_reference.py (reference.json) and test/demo-model.test.mjs (smoe): held-out entries in file order,
each encoded as <s> + text + </s>, concatenated, and cut into non-overlapping windows of SEQ_LEN tokens (the
last partial window dropped). A window's loss is the mean NLL of its tokens 2..SEQ_LEN given the ones
before; the perplexity is exp of the mean over all scored tokens.
"""
import os
import tarfile

# Under load (other processes on the same cores), spinning OpenMP threads and a second BLAS thread pool make
# torch with 2 threads 5-10x slower than with 1: idle threads sleep, and torch's own pool is the only one.
# Set before torch is imported (import common first).
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, 'corpus')
TOKENIZER_DIR = os.path.join(HERE, 'out', 'tokenizer')
OUT = os.path.join(HERE, 'out')
MODEL_DIR = os.path.join(REPO, 'models', 'demo')
SEQ_LEN = 256
SEPARATOR = '\n%\n'
BOS, EOS = '<s>', '</s>'


def ensure_corpus():
    """corpus/train.txt and heldout.txt, unpacked from corpus.tar.xz when missing."""
    train = os.path.join(CORPUS, 'train.txt')
    if not os.path.exists(train):
        archive = os.path.join(HERE, 'corpus.tar.xz')
        if not os.path.exists(archive):
            raise SystemExit(f'{train} is missing and so is {archive}: run extract_corpus.py first (on a machine with the fortune packages)')
        with tarfile.open(archive, 'r:xz') as tar:
            tar.extractall(HERE, filter='data')
    return train, os.path.join(CORPUS, 'heldout.txt')


def read_entries(path):
    """The entries of a corpus file, in order."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if text.endswith('\n'):
        text = text[:-1]
    return text.split(SEPARATOR) if text else []


def read_languages(path):
    """The language of each entry of a corpus file (corpus/NAME-languages.txt, one per line, written by
    extract_corpus.py)."""
    with open(path[:-len('.txt')] + '-languages.txt', encoding='utf-8') as f:
        return f.read().split()


def encode_entries(encoder, entries):
    """Token ids of each entry as <s> + text + </s> (encoder: a bpe.Encoder; ids 1 and 2 are <s> and </s>)."""
    bos, eos = encoder.vocab[BOS], encoder.vocab[EOS]
    return [[bos] + encoder.encode(e) + [eos] for e in entries]


def heldout_windows(encoder, heldout_path, max_windows=None):
    """The held-out evaluation windows: a list of lists of SEQ_LEN ids."""
    stream = [t for ids in encode_entries(encoder, read_entries(heldout_path)) for t in ids]
    n = len(stream) // SEQ_LEN
    if max_windows is not None:
        n = min(n, max_windows)
    return [stream[i * SEQ_LEN:(i + 1) * SEQ_LEN] for i in range(n)]
