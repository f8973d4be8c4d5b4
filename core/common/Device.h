#pragma once
// --device auto|cpu|cuda[:N] as used by every command that runs a model.
#include <string>

#include <c10/core/Device.h>

namespace biasscope {

// "auto" picks CUDA when LibTorch was built with it and a GPU is visible, else the CPU.
// Throws InputError for unknown names or for "cuda" without a usable GPU.
c10::Device resolveDevice(const std::string& name);
std::string describeDevice(const c10::Device& device);

}  // namespace biasscope

namespace biasscope {
// LibTorch's OpenMP pool may start with one thread (seen on Debian 12); use `requested` threads, or
// all hardware threads when requested <= 0 and OMP_NUM_THREADS is not set. Returns the count in use.
int configureCpuThreads(int requested);
}  // namespace biasscope
