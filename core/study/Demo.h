#pragma once
// The built-in demo: the whole mission on data the app makes itself. A planted-bias benchmark
// (data/PlantedBias.h), a small ViT trained on it by our trainer (class head: circle / triangle), a
// second head on the same frozen backbone for the "concept" classes (the backgrounds land / water,
// playing the role of the ImageNet labels), feathered (context-removed) test images, and a study file
// over four image sets (circle, triangle, masked_circle, masked_triangle). Every step is cached in
// the output folder and resumes; a second call with the same options does nothing.
#include <string>
#include <vector>

#include "common/JobControl.h"
#include "model/VitConfig.h"

namespace biasscope::study {

struct DemoOptions {
    std::string outDir;
    double bias = 0.95;
    std::uint64_t seed = 1;
    int trainPerClass = 600, testPerClass = 60;
    int epochs = 20;
    int workers = 2;
    // the demo's data design (data/PlantedBias.h; docs/demo.md says how these were chosen)
    double colourCue = 0.2, plainShare = 0.1;
};

struct DemoPaths {
    std::string dataDir, classModel, placeModel, studyFile;
};

model::VitConfig demoVitConfig();  // 64 px, patch 8, 4 layers, width 64, 4 heads, MLP 128

DemoPaths buildDemo(const DemoOptions& options, const JobControl& job = {});

// The demo's study, run and analysed: relevance of every test image into <outDir>/store (resumes:
// stored images are skipped) and the analysis tables in <outDir>/store/analysis. Returns the store.
struct DemoStudy {
    std::string storeDir;
    int computed = 0, skipped = 0;
    std::vector<std::string> warnings;
};
DemoStudy runDemoStudy(const DemoOptions& options, const DemoPaths& paths, const JobControl& job = {});

}  // namespace biasscope::study
