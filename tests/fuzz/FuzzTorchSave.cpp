// libFuzzer: torch.save .pth files (io/TorchSave: the zip archive, then the project's own unpickler).
// Input byte 0 even: the bytes are the .pth file itself. Odd: the rest is the archive's data.pkl,
// wrapped in a valid zip with one 64-byte storage, so the fuzzer reaches the unpickler. Read or
// refused naming the file; every tensor read lies within its storage.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include <caffe2/serialize/inline_container.h>
#include <ATen/core/Tensor.h>

#include "FuzzSupport.h"
#include "io/TorchSave.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace biasscope;
    std::string path;
    if (size && (data[0] & 1)) {
        path = (fuzz::scratch() / "wrapped.pth").string();
        caffe2::serialize::PyTorchStreamWriter w(path);
        w.writeRecord("data.pkl", data + 1, size - 1);
        static const std::vector<std::uint8_t> storage(64, 1);
        w.writeRecord("data/0", storage.data(), storage.size());
        w.writeRecord("version", "3\n", 2);
        w.writeEndOfFile();
    } else {
        path = fuzz::writeInput("raw.pth", data, size);
    }
    fuzz::expectContract([&] {
        for (const auto& [name, t] : io::readTorchSaveStateDict(path)) {
            if (!t.defined()) std::abort();
            (void)t.sum().item<double>();
        }
    }, path);
    return 0;
}
