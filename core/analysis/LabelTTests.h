#pragma once
// The study's t-test families (method.md section 4), on one site's normalised vectors:
//  - paired: for every unordered pair of labels and every layer, x = label1's values at each passing
//    image's own top-k gender neurons (concatenated over images), y = the same for label2;
//  - independent: per label and layer, male images' values at their top-k vs female images' at theirs
//    (Student if the samples have equal size, else Welch).
// Benjamini-Hochberg runs once over every test of all the families given (published: 8 x 1632 paired
// tests jointly, 816 independent tests jointly).
// The published tests pool an image's k neurons as k independent samples (n = images x k). The per-image
// unit (TestUnit::ImageMean) takes one value per image instead, the mean of the label's values at that
// image's top-k, so no image counts more than once. Effect-size intervals resample images (a cluster
// bootstrap for the pooled unit: an image's k values stay together).
#include <vector>

#include "analysis/Bootstrap.h"
#include "analysis/NeuronConsistency.h"
#include "analysis/RelevanceSimilarity.h"
#include "analysis/TTest.h"

namespace biasscope::analysis {

struct LabelTest {
    int label1 = 0, label2 = -1;  // label2 = -1 for independent tests
    int layer = 0;
    TTestResult result;
    double q = 0;
    bool significant = false;
    double d = 0;             // signed effect size: the sign of mean1 - mean2 times result.cohenD
    BootstrapCi dCi;          // of d; resamples = 0 when not computed
};

enum class TestUnit { PooledImageTopK, ImageMean };  // PooledImageTopK: as published
const char* toString(TestUnit u);       // "image x top-k, pooled (as published)" / "image (mean of its top-k)"
const char* familySuffix(TestUnit u);   // "" / "_per_image"

struct TopKOptions {
    int k = 5;
    RankBy rankBy = RankBy::Magnitude;
    TestUnit unit = TestUnit::PooledImageTopK;
    const BootstrapOptions* effectCi = nullptr;  // non-null: bootstrap CIs of d over images
};

std::vector<LabelTest> pairedLabelTests(const RelevanceTensorView& set, const std::vector<int>& passingImages, int genderTarget,
                                        const std::vector<int>& labels, const TopKOptions& topK = {});

std::vector<LabelTest> independentLabelTests(const RelevanceTensorView& male, const std::vector<int>& malePassing, int maleGenderTarget,
                                             const RelevanceTensorView& female, const std::vector<int>& femalePassing, int femaleGenderTarget,
                                             const std::vector<int>& labels, const TopKOptions& topK = {});

// BH jointly over every test of every family; invalid tests (NaN p) get q = NaN.
void applyJointFdr(const std::vector<std::vector<LabelTest>*>& families, double alpha = 0.05);

}  // namespace biasscope::analysis
