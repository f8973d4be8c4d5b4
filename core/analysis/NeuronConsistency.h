#pragma once
// Gender-sensitive neurons and their consistency across images (method.md section 4).
#include <string>
#include <vector>

#include "analysis/Bootstrap.h"

namespace biasscope::analysis {

enum class RankBy { Magnitude, Signed };  // published: |value| (lrp_run.py); signed is lrp_utils.py's convention

// Indices of the k largest values by |value| (or by value), descending; ties go to the lower index.
std::vector<int> topKNeurons(const float* values, int n, int k, RankBy by = RankBy::Magnitude);

struct ConsistencyPoint {
    double percent = 0;  // 100 * count / images
    int neuron = -1;     // the most frequent top-k neuron (lowest index among ties)
    int count = 0;
    int images = 0;
};

// topK[image][layer] = that image's top-k neuron indices at the layer. Per layer: the share of images
// whose top-k contains the most frequent neuron. Throws InputError for an empty image set or ragged layers.
std::vector<ConsistencyPoint> neuronConsistency(const std::vector<std::vector<std::vector<int>>>& topK);

// Bootstrap CIs of every layer's consistency percent: images are resampled with replacement and the most
// frequent neuron is found anew in each resample (the statistic as published, on the resampled set).
std::vector<BootstrapCi> neuronConsistencyCi(const std::vector<std::vector<std::vector<int>>>& topK, const BootstrapOptions& options);

}  // namespace biasscope::analysis
