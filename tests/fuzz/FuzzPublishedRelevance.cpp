// libFuzzer: the published pipeline's outputs read by `study import-published` (vit_relevance/). The
// first input byte picks the file the rest becomes: the set's scores.json, or one image's top-k file of
// either site; the other files are valid. Read or refused naming the file; what is read is rectangular.
#include <cstdint>
#include <cstdlib>

#include "FuzzSupport.h"
#include "study/PublishedRun.h"

namespace {
const char* kTopK = R"({"0": {"top5_index": [1, 2, 3, 4, 5], "scores": [0.5, 0.2, 0.1, 0.1, 0.1]},
 "1": {"top5_index": [6, 7, 8, 9, 10], "scores": [0.4, 0.3, 0.1, 0.1, 0.1]}})";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace biasscope;
    const char* files[] = {"vr/male/scores.json", "vr/male/img1/top5_relevance_male_vit.json", "vr/male/img1/top5_intermediate_relevance_male_vit.json"};
    fuzz::writeText(files[0], R"({"img1": 0.9})");
    fuzz::writeText(files[1], kTopK);
    fuzz::writeText(files[2], kTopK);
    const int which = size ? data[0] % 3 : 0;
    const std::string path = fuzz::writeInput(files[which], size ? data + 1 : data, size ? size - 1 : 0);
    fuzz::expectContract([&] {
        for (const auto& set : study::readPublishedRelevance((fuzz::scratch() / "vr").string()))
            for (const auto& img : set.images) {
                if (!(img.confidence >= 0 && img.confidence <= 1)) std::abort();
                for (const auto& [site, layers] : img.topK) {
                    const auto& sc = img.scores.at(site);  // scores are optional per layer
                    if (sc.size() != layers.size()) std::abort();
                    for (std::size_t l = 0; l < layers.size(); ++l)
                        if (layers[l].empty() || (!sc[l].empty() && sc[l].size() != layers[l].size())) std::abort();
                }
            }
    }, "");  // a malformed file is named, but errors about the folder name the folder
    return 0;
}
