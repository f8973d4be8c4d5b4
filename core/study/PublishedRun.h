#pragma once
// Reader of the published Python pipeline's outputs, so users migrating keep their runs:
//   vit_relevance/<set>/scores.json                       {image: gender confidence}
//   vit_relevance/<set>/<image>/top5_relevance_<g>_vit.json              block output ("final")
//   vit_relevance/<set>/<image>/top5_intermediate_relevance_<g>_vit.json post-GELU ("intermediate")
// Each top-k file: {"<layer>": {"top5_index": [...], "scores": [...]}} (key always "top5_index").
#include <map>
#include <string>
#include <vector>

namespace biasscope::study {

struct PublishedImage {
    std::string name;
    double confidence = 0;
    std::map<std::string, std::vector<std::vector<int>>> topK;     // site -> [layer][k]
    std::map<std::string, std::vector<std::vector<double>>> scores;  // site -> [layer][k] (normalised relevance)
};

struct PublishedSet {
    std::string name;    // male, female, masked_male, masked_female
    std::string gender;  // male / female
    std::vector<PublishedImage> images;  // sorted by name
};

// Reads every set folder under `vitRelevanceDir`; throws Error naming the file on anything malformed
// (missing scores.json, image without a score, missing or ragged top-k file).
std::vector<PublishedSet> readPublishedRelevance(const std::string& vitRelevanceDir);

// Images with confidence >= threshold; their top-k lists at `site` ([image][layer][k]).
std::vector<std::vector<std::vector<int>>> passingTopK(const PublishedSet& set, const std::string& site, double threshold);

}  // namespace biasscope::study
