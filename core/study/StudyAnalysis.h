#pragma once
// `study analyze`: the full analysis of a study store (method.md section 4) into CSV tables.
//  - every per-layer vector is divided by its own absolute maximum (per image, target, site, layer);
//  - labels = targets that are no set's reference target; each image's own reference is its gender target;
//  - consistency per set, site, layer over images with confidence >= threshold;
//  - similarity per condition: pool of both sets (no threshold), aggregate per set over passing images;
//  - paired label tests per set and site, BH jointly over all of them; independent tests per condition
//    and site (first set of the condition in file order vs the second), BH jointly over all of them;
//    each family twice: pooled image x top-k values (as published) and one mean per image (*_per_image);
//  - beyond the published study: per-neuron tests (neuron_tests.csv), seeded bootstrap CIs of the
//    consistency, the similarity means and every effect size, and sweeps of the threshold and top-k.
#include <map>
#include <string>
#include <vector>

#include "analysis/NeuronConsistency.h"
#include "analysis/RelevanceSimilarity.h"
#include "common/JobControl.h"

namespace biasscope::study {

// Per-neuron tests (neuron_tests.csv): each label against the set's reference target (Reference), every
// pair of labels (Labels), or none. Independent per-neuron tests run per condition for every label and
// the reference whenever neuron tests run.
enum class NeuronComparisons { Reference, Labels, None };

struct AnalysisOptions {
    double threshold = -1;  // < 0: the study's confidence_threshold
    int topK = -1;          // < 1: the study's top_k
    analysis::RankBy rankBy = analysis::RankBy::Magnitude;
    // bootstrap CIs (consistency, similarity means, effect sizes); resamples 0 = none
    analysis::BootstrapOptions bootstrap{10000, 20261207, 0.95};
    NeuronComparisons neuronTests = NeuronComparisons::Reference;
    // robustness sweeps (sweep_consistency.csv, sweep_tests.csv); the study's own value is always a point
    std::vector<double> sweepThresholds{0.5, 0.6, 0.7, 0.8, 0.9, 0.95};
    std::vector<int> sweepTopK{1, 3, 5, 10, 20};
    bool sweeps = true;
};

struct AnalysisReport {
    std::vector<std::string> written;
    std::vector<std::string> warnings;  // e.g. a set with fewer than 2 passing images
    // for figures: condition -> its sets (file order); set -> site -> consistency % per layer; set -> passing images
    std::map<std::string, std::vector<std::string>> setsByCondition;
    std::map<std::string, std::map<std::string, std::vector<double>>> consistency;
    std::map<std::string, std::map<std::string, std::vector<analysis::BootstrapCi>>> consistencyCi;  // empty without bootstrap
    std::map<std::string, int> passingImages;
    std::vector<std::string> labels;                                                                     // rows of the heatmaps
    std::map<std::string, std::map<std::string, std::vector<analysis::SimilarityCell>>> similarity;  // set -> site -> cells
    double threshold = 0;
};

// Reads <storeDir>/study.json and <storeDir>/relevance/, writes tables into outDir.
AnalysisReport analyzeStudy(const std::string& storeDir, const std::string& outDir, const AnalysisOptions& options, const JobControl& job = {});

}  // namespace biasscope::study
