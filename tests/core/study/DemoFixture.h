#pragma once
// The demo models the planted-bias tests read: under CTest they are built beforehand by the fixture tests
// demo.build_b<bias>_s<seed> (tests/CMakeLists.txt: one `biasscope-cli demo` per model, trained side by side)
// into BIASSCOPE_DEMO_FIXTURE/b<bias>s<seed>; run by hand, the test builds what is missing itself (cached).
#include <QByteArray>
#include <QDir>
#include <filesystem>
#include <string>

#include "study/Demo.h"

namespace biasscope::test {

inline std::filesystem::path demoFixtureRoot() {
    const QByteArray keep = qgetenv("BIASSCOPE_DEMO_FIXTURE");
    return keep.isEmpty() ? std::filesystem::path(QDir::tempPath().toStdString()) / "biasscope-demo-fixture" : std::filesystem::path(keep.toStdString());
}

// The demo at bias percent/100 and seed (built if missing: data, class model, concept head, feathering).
inline study::DemoOptions demoModel(int biasPercent, std::uint64_t seed) {
    study::DemoOptions o;
    o.bias = biasPercent / 100.0;
    o.seed = seed;
    o.outDir = (demoFixtureRoot() / ("b" + std::to_string(biasPercent) + "s" + std::to_string(seed))).string();
    study::buildDemo(o);
    return o;
}

}  // namespace biasscope::test
