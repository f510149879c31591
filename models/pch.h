// Precompiled header for every target that uses LibTorch (models/, trainer/,
// their tests and benchmarks). Parsing <torch/torch.h> costs ~20 s per TU.
#pragma once
#include <torch/torch.h>
