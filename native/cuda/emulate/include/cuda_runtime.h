// SIMT emulation build: stands in for the CUDA toolkit's cuda_runtime.h (see ../simt.h).
#pragma once
#include "../simt.h"
