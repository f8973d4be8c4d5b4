#pragma once
// Cosine-similarity heatmaps (method.md section 4): the pool is every per-layer normalised vector of
// every image of one condition (both sets, every target, every layer; no confidence threshold); each
// feature is z-scored with the pool's mean and population std (std 0 -> 1e-4); per image, target and
// layer the cosine between z(target) and z(reference target) is taken; per (target, layer) cell the
// threshold-passing images give mean, SEM (ddof 1) and a one-sample t-test against 0, and
// Benjamini-Hochberg runs over all cells of the (set, site).
#include <cstddef>
#include <string>
#include <vector>

#include "analysis/Bootstrap.h"

namespace biasscope::analysis {

// Row-major [images][targets][layers][features] view of one site's normalised vectors.
struct RelevanceTensorView {
    const float* data = nullptr;
    int images = 0, targets = 0, layers = 0, features = 0;
    const float* vector(int image, int target, int layer) const {
        return data + ((static_cast<std::size_t>(image) * targets + target) * layers + layer) * static_cast<std::size_t>(features);
    }
};

// cos[(image * targets + target) * layers + layer] between target and `referenceTarget` of the same
// image and layer, after pooled z-scoring. The reference's own cells are 1.
std::vector<double> pooledCosineToReference(const RelevanceTensorView& pool, int referenceTarget, double stdFloor = 1e-4);

struct SimilarityCell {
    int target = 0, layer = 0, n = 0;
    double mean = 0, sem = 0, t = 0, p = 0, q = 0;
    bool significant = false;     // q < alpha
    std::string invalidReason;    // from the t-test (n < 2, zero variance, NaN)
    BootstrapCi meanCi;           // of the mean over images; resamples = 0 when not computed
};

// Aggregates `cosines` (from pooledCosineToReference) over the images in `imagesOfSet` that pass
// (`passing`), for every target except the reference; BH over all returned cells. With `meanCi`, each
// cell's mean gets a bootstrap CI over the passing images (the same resamples for every cell).
std::vector<SimilarityCell> aggregateSimilarity(const std::vector<double>& cosines, int targets, int layers, int referenceTarget,
                                                const std::vector<int>& imagesOfSet, const std::vector<bool>& passing, double alpha = 0.05,
                                                const BootstrapOptions* meanCi = nullptr);

}  // namespace biasscope::analysis
