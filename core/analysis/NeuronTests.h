#pragma once
// Per-neuron tests (beyond the published study): for every layer and neuron of one site, a t-test across
// images of that neuron's normalised relevance, either between two targets of the same images (paired) or
// between the images of two sets for one target (independent: Student for equal sizes, else Welch, as
// published). Each image gives one value per neuron, so n is the number of images. Benjamini-Hochberg runs
// over every layer x neuron of the family (one comparison of one set or condition and site); tests that
// cannot be computed (n < 2, zero variance) get NaN and are left out of it.
#include <vector>

#include "analysis/RelevanceSimilarity.h"
#include "analysis/TTest.h"

namespace biasscope::analysis {

struct NeuronTest {
    int layer = 0, neuron = 0;
    TTestResult result;
    double d = 0;  // signed effect size: sign(mean1 - mean2) * |d| (paired: d_avg; independent: pooled-sd d)
    double q = 0;
    bool significant = false;
};

// images index `v`; values of targetA vs targetB of the same images.
std::vector<NeuronTest> pairedNeuronTests(const RelevanceTensorView& v, const std::vector<int>& images, int targetA, int targetB, double alpha = 0.05);

// x's images at targetX vs y's images at targetY.
std::vector<NeuronTest> independentNeuronTests(const RelevanceTensorView& x, const std::vector<int>& xImages, int targetX, const RelevanceTensorView& y,
                                               const std::vector<int>& yImages, int targetY, double alpha = 0.05);

}  // namespace biasscope::analysis
