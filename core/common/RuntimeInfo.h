#pragma once
// What this build runs on, for `biasscope-cli info`, the app's About box and run provenance: BiasScope,
// LibTorch and OpenCV versions, the BLAS and its kernels, CPU threads, CUDA devices, the cache folder.
#include <string>
#include <utility>
#include <vector>

namespace biasscope {

std::vector<std::pair<std::string, std::string>> runtimeInfo();

}  // namespace biasscope
