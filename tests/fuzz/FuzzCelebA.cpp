// libFuzzer: the CelebA text files. BIASSCOPE_FUZZ_PARTITION selects list_eval_partition.txt, otherwise
// list_attr_celeba.txt. A file is read or refused naming itself; what is read is consistent.
#include <cstdint>
#include <cstdlib>

#include "FuzzSupport.h"
#include "data/Datasets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace biasscope;
#ifdef BIASSCOPE_FUZZ_PARTITION
    const std::string path = fuzz::writeInput("list_eval_partition.txt", data, size);
    fuzz::expectContract([&] {
        for (const auto& [file, split] : data::readCelebAPartition(path))
            if (file.empty() || split < 0 || split > 2) std::abort();
    }, path);
#else
    const std::string path = fuzz::writeInput("list_attr_celeba.txt", data, size);
    fuzz::expectContract([&] {
        const auto a = data::readCelebAAttributes(path);
        if (a.names.empty() || a.files.size() != a.values.size()) std::abort();
        for (const auto& v : a.values) {
            if (v.size() != a.names.size()) std::abort();
            for (auto x : v)
                if (x != 1 && x != -1) std::abort();
        }
    }, path);
#endif
    return 0;
}
