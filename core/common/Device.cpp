#include "common/Device.h"

#include <torch/cuda.h>

#include "common/Error.h"

namespace biasscope {

c10::Device resolveDevice(const std::string& name) {
    if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    if (name == "cpu") return c10::Device(c10::kCPU);
    if (name.rfind("cuda", 0) == 0) {
        if (!torch::cuda::is_available())
            throw InputError("--device " + name + ": no CUDA GPU is usable (this LibTorch build or this machine has none); use --device cpu");
        int index = 0;
        if (name.size() > 4) {
            if (name[4] != ':') throw InputError("--device " + name + ": expected cuda or cuda:N");
            try {
                index = std::stoi(name.substr(5));
            } catch (...) {
                throw InputError("--device " + name + ": expected cuda or cuda:N");
            }
        }
        if (index < 0 || index >= static_cast<int>(torch::cuda::device_count()))
            throw InputError("--device " + name + ": only " + std::to_string(torch::cuda::device_count()) + " CUDA device(s) present");
        return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    throw InputError("--device " + name + ": expected auto, cpu or cuda[:N]");
}

std::string describeDevice(const c10::Device& device) { return device.str(); }

}  // namespace biasscope

#include <cstdlib>
#include <thread>

#include <ATen/Parallel.h>

namespace biasscope {

int configureCpuThreads(int requested) {
    if (requested > 0) {
        at::set_num_threads(requested);
    } else if (!std::getenv("OMP_NUM_THREADS")) {
        at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    }
    return at::get_num_threads();
}

}  // namespace biasscope
