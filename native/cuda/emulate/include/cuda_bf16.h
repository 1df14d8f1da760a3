// SIMT emulation build: stands in for the CUDA toolkit's cuda_bf16.h (see ../simt_half.h).
#pragma once
#include "../simt_half.h"
