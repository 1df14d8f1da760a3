# Minimal stand-in for the two transformers entry points llama.cpp's converter uses on a
# Mistral-style folder (config.json + tokenizer.json): AutoConfig (reads config.json) and
# AutoTokenizer (the fast-tokenizer queries LlamaHfVocab makes). For the fixture tool only.
import json, os

class _Cfg:
    def __init__(self, d): self._d = d
    def to_dict(self): return dict(self._d)

class AutoConfig:
    @staticmethod
    def from_pretrained(path, **kw):
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            return _Cfg(json.load(f))

class _FastTokenizer:
    is_fast = True
    def __init__(self, path):
        with open(os.path.join(path, "tokenizer.json"), encoding="utf-8") as f:
            tj = json.load(f)
        cfg = {}
        p = os.path.join(path, "tokenizer_config.json")
        if os.path.isfile(p):
            with open(p, encoding="utf-8") as f:
                cfg = json.load(f)
        self._base = dict(tj["model"]["vocab"])
        self._added = {t["content"]: t["id"] for t in tj.get("added_tokens", [])}
        self.vocab = dict(self._base); self.vocab.update(self._added)
        self.vocab_size = len(self._base)
        special = []
        for key in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
            v = cfg.get(key)
            if isinstance(v, dict): v = v.get("content")
            if v is not None and v not in special: special.append(v)
        for v in cfg.get("additional_special_tokens", []) or []:
            if isinstance(v, dict): v = v.get("content")
            if v not in special: special.append(v)
        self.all_special_tokens = special
        self.all_special_ids = [self.vocab[t] for t in special if t in self.vocab]
    def get_vocab(self): return dict(self.vocab)
    def get_added_vocab(self): return dict(self._added)

class AutoTokenizer:
    @staticmethod
    def from_pretrained(path, **kw):
        return _FastTokenizer(str(path))
