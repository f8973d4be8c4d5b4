// libFuzzer: any byte string given as a JSON input file (a COCO annotation file here, through the same
// bounded reader every JSON input uses) must either be read or raise biasscope::Error. Nothing else: no
// crash, no stack overflow on deep nesting, no other exception type, no sanitizer report.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/Error.h"
#include "io/CocoAnnotations.h"
#include "io/JsonFile.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string path = "/tmp/biasscope-fuzz-json-" + std::to_string(::getpid()) + ".json";
    if (FILE* f = std::fopen(path.c_str(), "wb")) {
        std::fwrite(data, 1, size, f);
        std::fclose(f);
    }
    try {
        const auto coco = biasscope::io::readCocoAnnotations(path);
        for (const auto& [name, image] : coco.byOriginalName) {
            if (image.width < 1 || image.height < 1) std::abort();  // the reader promises positive sizes
            for (const auto& p : image.polygons)
                if (p.xy.size() < 6 || p.xy.size() % 2) std::abort();
        }
    } catch (const biasscope::Error&) {
    }
    try {
        (void)biasscope::io::parseJsonText(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    } catch (const biasscope::Error&) {
    }
    return 0;
}
