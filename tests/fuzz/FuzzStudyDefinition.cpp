// libFuzzer: a study file (study run / merge / analyze). Read or refused naming the file; a study that
// is read has heads, sets and targets, unique names, and a parameter hash.
#include <cstdint>
#include <cstdlib>
#include <set>

#include "FuzzSupport.h"
#include "study/StudyDefinition.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace biasscope;
    const std::string path = fuzz::writeInput("study/study.json", data, size);
    fuzz::expectContract([&] {
        const auto s = study::readStudyDefinition(path);
        if (s.sets.empty() || s.targets.empty()) std::abort();
        std::set<std::string> names;
        for (const auto& t : s.targets)
            if (!names.insert(t.name).second) std::abort();
        (void)s.parametersKey();
    }, path);
    return 0;
}
