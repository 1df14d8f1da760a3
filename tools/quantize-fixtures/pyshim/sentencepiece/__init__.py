# Stand-in for the sentencepiece package so that llama.cpp's converter can import it and then find no
# tokenizer.model (it then takes its llama-hf path for tokenizer.json). For the fixture tool only.
class SentencePieceProcessor:
    pass
