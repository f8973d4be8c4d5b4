#pragma once
// `study run`: relevance of every image x target of a study into a per-image store
// (<out>/relevance/<set>/<stem>.safetensors, layout in docs/study-format.md). Resumable: an image
// already stored with the same model, parameters and image bytes is skipped. Shardable: image i (in a
// fixed global order) belongs to shard i mod N, so N machines fill disjoint parts of one store.
#include <string>
#include <utility>
#include <vector>

#include <c10/core/Device.h>

#include "common/JobControl.h"
#include "study/StudyDefinition.h"

namespace biasscope::study {

struct StudyRunOptions {
    std::string outDir;
    int shardIndex = 0, shardCount = 1;
    c10::Device device = c10::Device(c10::kCPU);
};

struct StudyRunReport {
    int computed = 0, skipped = 0, otherShards = 0;
    std::vector<std::pair<std::string, std::string>> failures;  // image file, reason
};

StudyRunReport runStudy(const StudyDefinition& study, const StudyRunOptions& options, const JobControl& job = {});

// Path of an image's record in the store.
std::string storedImagePath(const std::string& outDir, const std::string& set, const std::string& imageFile);

}  // namespace biasscope::study
