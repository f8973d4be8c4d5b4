# Imports the LibTorch that a Python torch package carries (a pip wheel, CPU or CUDA build), for
# -DBIASSCOPE_TORCH_PYTHON=/path/to/python. The wheel's own TorchConfig.cmake is not used: for a CUDA
# wheel it needs a full CUDA toolkit at configure time (FindCUDA, nvrtc), although BiasScope compiles no
# CUDA code, and its find_library calls find a system libtorch.so (Debian's libtorch-dev) before the
# wheel's. Sets what find_package(Torch) sets: Torch_VERSION, TORCH_LIBRARIES, TORCH_INCLUDE_DIRS,
# TORCH_INSTALL_PREFIX; and BIASSCOPE_TORCH_CUDA (the CUDA version the wheel was built for, or empty).
execute_process(
  COMMAND "${BIASSCOPE_TORCH_PYTHON}" -c
    "import os, torch; print(os.path.dirname(torch.__file__)); print(torch.__version__.split('+')[0]); print(int(torch._C._GLIBCXX_USE_CXX11_ABI)); print(torch.version.cuda or '')"
  OUTPUT_VARIABLE _torch_info RESULT_VARIABLE _torch_rc ERROR_VARIABLE _torch_err OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _torch_rc EQUAL 0)
  string(REGEX REPLACE "\n$" "" _torch_err "${_torch_err}")
  string(REGEX REPLACE ".*\n" "" _torch_err "${_torch_err}")
  message(FATAL_ERROR "BIASSCOPE_TORCH_PYTHON=${BIASSCOPE_TORCH_PYTHON}: cannot import torch (${_torch_err})")
endif()
string(REPLACE "\n" ";" _torch_info "${_torch_info}")
list(GET _torch_info 0 TORCH_INSTALL_PREFIX)
list(GET _torch_info 1 Torch_VERSION)
list(GET _torch_info 2 _torch_abi)
list(LENGTH _torch_info _n)
set(BIASSCOPE_TORCH_CUDA "")
if(_n GREATER 3)
  list(GET _torch_info 3 BIASSCOPE_TORCH_CUDA)
endif()

set(_lib "${TORCH_INSTALL_PREFIX}/lib")
foreach(_l torch torch_cpu c10)
  if(NOT EXISTS "${_lib}/lib${_l}.so")
    message(FATAL_ERROR "BIASSCOPE_TORCH_PYTHON=${BIASSCOPE_TORCH_PYTHON}: ${_lib}/lib${_l}.so not found (a torch wheel without LibTorch?)")
  endif()
endforeach()
set(TORCH_INCLUDE_DIRS "${TORCH_INSTALL_PREFIX}/include" "${TORCH_INSTALL_PREFIX}/include/torch/csrc/api/include")
set(TORCH_LIBRARIES "${_lib}/libtorch.so" "${_lib}/libtorch_cpu.so" "${_lib}/libc10.so")
if(BIASSCOPE_TORCH_CUDA)
  # Nothing of ours calls into these, so --as-needed would drop them and the CUDA operators would never be
  # registered: link them unconditionally (as the wheel's own config does). Their CUDA libraries (cuDNN,
  # cuBLAS, ...) come from the nvidia-* wheels through the libraries' own RPATH.
  list(APPEND TORCH_LIBRARIES "-Wl,--no-as-needed,${_lib}/libtorch_cuda.so,${_lib}/libc10_cuda.so -Wl,--as-needed")
endif()
add_compile_definitions(_GLIBCXX_USE_CXX11_ABI=${_torch_abi})
list(APPEND CMAKE_BUILD_RPATH "${_lib}")
list(APPEND CMAKE_INSTALL_RPATH "${_lib}")
set(Torch_FOUND TRUE)
