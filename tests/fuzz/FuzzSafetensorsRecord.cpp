// libFuzzer: a whole safetensors file through the reader every model and study record goes through
// (memory map, header, tensors). Read or refused naming the file; every tensor read has the bytes its
// dtype and shape promise.
#include <cstdint>
#include <cstdlib>

#include <ATen/core/Tensor.h>

#include "FuzzSupport.h"
#include "io/Safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace biasscope;
    const std::string path = fuzz::writeInput("record.safetensors", data, size);
    fuzz::expectContract([&] {
        const auto c = io::readSafetensors(path);
        for (const auto& [name, t] : c.tensors) {
            if (name.empty() || !t.defined() || !t.is_contiguous()) std::abort();
            (void)t.sum().item<double>();  // touches every element
        }
        (void)io::readSafetensorsHeader(path);
    }, path);
    return 0;
}
