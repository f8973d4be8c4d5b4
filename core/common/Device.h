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
