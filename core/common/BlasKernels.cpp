#include "common/BlasKernels.h"

#include <cstdlib>

#include <ATen/Version.h>
#include <dlfcn.h>
#include <unistd.h>

namespace biasscope {

std::string openBlasCore() {
    using CoreName = char* (*)();
    auto f = reinterpret_cast<CoreName>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    if (!f) return {};
    const char* name = f();
    return name ? std::string(name) : std::string();
}

std::string libtorchBlas() {
    const std::string c = at::show_config();
    const auto at = c.find("BLAS_INFO=");
    if (at == std::string::npos) return "unknown";
    const auto end = c.find_first_of(", \n", at + 10);
    return c.substr(at + 10, end == std::string::npos ? std::string::npos : end - at - 10);
}

std::string betterOpenBlasCore() {
    const char* off = std::getenv("BIASSCOPE_BLAS_REEXEC");
    if ((off && std::string(off) == "0") || std::getenv("OPENBLAS_CORETYPE")) return {};
#if defined(__x86_64__)
    if (openBlasCore() == "Prescott" && libtorchBlas() != "mkl" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return {};
}

void reexecWithBetterBlasKernels(char** argv) {
    const std::string core = betterOpenBlasCore();
    if (core.empty()) return;
    ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    ::setenv("BIASSCOPE_BLAS_REEXEC", "0", 1);          // once
    ::setenv("BIASSCOPE_BLAS_FALLBACK", "Prescott", 1);  // what OpenBLAS chose by itself (RuntimeInfo reports it)
    ::execv("/proc/self/exe", argv);
    // exec failed: go on with the kernels already loaded
    ::unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace biasscope
