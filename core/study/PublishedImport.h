#pragma once
// `study import-published`: turns the published Python pipeline's outputs (vit_relevance/, read by
// PublishedRun.h) into a BiasScope study store, so users migrating keep their runs. The published
// pipeline saved only each image's top-5 neurons per layer and its confidence, not the per-neuron
// relevance vectors, so an imported store supports confidence, top-k and consistency; similarity and
// t-tests need a `study run` (analyzeStudy says so in its warnings).
//
// Store written (docs/study-format.md, "Imported stores"):
//   <out>/study.json                              sets, reference targets, sites, "imported_from"
//   <out>/relevance/<set>/<image>.safetensors     confidence [1], <ref>/<site>_topk_index int64 [layers, k],
//                                                 <ref>/<site>_topk_score float64 [layers, k]
#include <string>

namespace biasscope::study {

struct ImportReport {
    int sets = 0, images = 0;
    std::string studyFile;
};

// Throws InputError / Error naming the file on malformed input; writes each record atomically.
ImportReport importPublished(const std::string& vitRelevanceDir, const std::string& outDir);

}  // namespace biasscope::study
