// libFuzzer: any byte string must either parse into a header whose every entry lies inside the
// buffer without overlap, or raise SafetensorsError. Nothing else (no crash, no other exception).
#include <cstdint>
#include <cstdlib>

#include "io/SafetensorsHeader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace biasscope::io;
    try {
        const SafetensorsHeader h = parseSafetensorsHeader(data, size, "fuzz");
        const std::uint64_t dataSize = size - h.dataOffset;
        std::uint64_t prevEnd = 0;
        for (const auto& e : h.entries) {
            if (e.end > dataSize || e.begin > e.end) std::abort();
            if (e.end - e.begin != e.numel() * dtypeSize(e.dtype)) std::abort();
            if (e.begin < prevEnd && e.end > e.begin) std::abort();
            if (e.end > e.begin) prevEnd = e.end;
        }
    } catch (const SafetensorsError&) {
    }
    return 0;
}
