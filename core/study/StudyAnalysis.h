#pragma once
// `study analyze`: the full analysis of a study store (method.md section 4) into CSV tables.
//  - every per-layer vector is divided by its own absolute maximum (per image, target, site, layer);
//  - labels = targets that are no set's reference target; each image's own reference is its gender target;
//  - consistency per set, site, layer over images with confidence >= threshold;
//  - similarity per condition: pool of both sets (no threshold), aggregate per set over passing images;
//  - paired label tests per set and site, BH jointly over all of them; independent tests per condition
//    and site (first set of the condition in file order vs the second), BH jointly over all of them.
#include <map>
#include <string>
#include <vector>

#include "analysis/NeuronConsistency.h"
#include "analysis/RelevanceSimilarity.h"
#include "common/JobControl.h"

namespace biasscope::study {

struct AnalysisOptions {
    double threshold = -1;  // < 0: the study's confidence_threshold
    int topK = -1;          // < 1: the study's top_k
    analysis::RankBy rankBy = analysis::RankBy::Magnitude;
};

struct AnalysisReport {
    std::vector<std::string> written;
    std::vector<std::string> warnings;  // e.g. a set with fewer than 2 passing images
    // for figures: condition -> its sets (file order); set -> site -> consistency % per layer; set -> passing images
    std::map<std::string, std::vector<std::string>> setsByCondition;
    std::map<std::string, std::map<std::string, std::vector<double>>> consistency;
    std::map<std::string, int> passingImages;
    std::vector<std::string> labels;                                                                     // rows of the heatmaps
    std::map<std::string, std::map<std::string, std::vector<analysis::SimilarityCell>>> similarity;  // set -> site -> cells
    double threshold = 0;
};

// Reads <storeDir>/study.json and <storeDir>/relevance/, writes tables into outDir.
AnalysisReport analyzeStudy(const std::string& storeDir, const std::string& outDir, const AnalysisOptions& options, const JobControl& job = {});

}  // namespace biasscope::study
