# Runs llama.cpp's convert_hf_to_gguf.py on the torch 1.13 this machine has: the converter names torch
# dtypes that came later (float8_*, uint16/32/64) in a lookup table; they are aliased to uint8 here, which
# no Mixtral checkpoint uses. argv: CONVERTER_PATH converter-args...
import runpy
import sys

import torch

for name in ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "uint16", "uint32", "uint64"]:
    if not hasattr(torch, name):
        setattr(torch, name, torch.uint8)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
