#pragma once
// Precompiled header of ips_core: the LibTorch headers every engine source includes.
#include <ATen/ATen.h>
#include <torch/nn.h>
