#pragma once
// OpenBLAS (the BLAS of Debian's LibTorch) chooses its kernels by CPU model when it loads. A model it does not
// know falls back to "Prescott", its SSE3 kernels: seen with Debian 12's OpenBLAS 0.3.21 on Intel Emerald
// Rapids (family 6, model 207), a CPU with AVX-512. The kernel can be chosen only before the library loads
// (OPENBLAS_CORETYPE), so BiasScope's executables re-execute themselves once with it set (docs/benchmarks.md
// has the measured gain). Numbers change with the kernel like with any other BLAS; docs/demo.md shows that
// every demo check holds across kernels.
#include <string>

namespace biasscope {

// The kernel set OpenBLAS runs ("Prescott", "Haswell", "SkylakeX", ...), or "" when no OpenBLAS is loaded.
// (In a build against the pip wheels LibTorch uses MKL, and OpenBLAS may still be loaded by OpenCV.)
std::string openBlasCore();
// LibTorch's BLAS as its build reports it (at::show_config's BLAS_INFO): "mkl" for the pip wheels, "generic"
// (libblas.so.3: OpenBLAS on Debian) or "open" for Debian's.
std::string libtorchBlas();

// The kernel to ask for instead, or "": "Haswell" when OpenBLAS fell back to Prescott on a CPU with AVX2 and
// FMA, LibTorch is not on MKL and OPENBLAS_CORETYPE is not set (BIASSCOPE_BLAS_REEXEC=0 turns this off).
std::string betterOpenBlasCore();

// Re-executes this program (argv) with OPENBLAS_CORETYPE=betterOpenBlasCore() when that is not "", once.
// Returns when it did not (nothing to do, turned off, or exec failed).
void reexecWithBetterBlasKernels(char** argv);

}  // namespace biasscope
