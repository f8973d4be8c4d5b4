#include "common/RuntimeInfo.h"

#include <cstdlib>

#include <ATen/Parallel.h>
#include <opencv2/core/version.hpp>
#include <torch/cuda.h>
#include <torch/version.h>

#include "common/BlasKernels.h"
#include "io/HashCache.h"

namespace biasscope {

std::vector<std::pair<std::string, std::string>> runtimeInfo() {
    std::vector<std::pair<std::string, std::string>> v;
    v.emplace_back("BiasScope", BIASSCOPE_VERSION);
    v.emplace_back("LibTorch", TORCH_VERSION);
    v.emplace_back("OpenCV", CV_VERSION);
    const std::string core = openBlasCore(), lt = libtorchBlas();
    if (lt == "mkl") {
        v.emplace_back("BLAS", std::string("MKL (LibTorch's)") + (core.empty() ? "" : "; OpenCV's OpenBLAS: " + core + " kernels"));
    } else if (core.empty()) {
        v.emplace_back("BLAS", lt + " (LibTorch's BLAS_INFO)");
    } else {
        const char* asked = std::getenv("OPENBLAS_CORETYPE");
        const char* fallback = std::getenv("BIASSCOPE_BLAS_FALLBACK");
        std::string s = "OpenBLAS, " + core + " kernels";
        if (fallback && *fallback)
            s += std::string(" (chosen by BiasScope: OpenBLAS picked its ") + fallback + " fallback on this CPU; BIASSCOPE_BLAS_REEXEC=0 keeps it)";
        else if (asked && *asked)
            s += std::string(" (OPENBLAS_CORETYPE=") + asked + ")";
        v.emplace_back("BLAS", s);
    }
    v.emplace_back("CPU threads", std::to_string(at::get_num_threads()));
    std::string cuda = "none";
    if (torch::cuda::is_available()) cuda = std::to_string(torch::cuda::device_count()) + " device(s)";
    v.emplace_back("CUDA", cuda);
    const std::string cache = io::cacheDir();
    v.emplace_back("cache", cache.empty() ? "none (no HOME)" : cache);
    return v;
}

}  // namespace biasscope
