// Precompiled header of biasscope_core: the LibTorch headers every torch-using TU needs.
#include <torch/types.h>
#include <torch/autograd.h>
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <vector>
