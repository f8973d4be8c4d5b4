#include "analysis/LabelTTests.h"

#include "analysis/MultipleTesting.h"
#include "common/Error.h"

namespace biasscope::analysis {

namespace {

// values[label][...] of one layer: every label's values at each image's own top-k gender neurons
std::vector<std::vector<double>> valuesAtGenderTopK(const RelevanceTensorView& v, const std::vector<int>& images, int gender, int layer,
                                                    const std::vector<int>& labels, const TopKOptions& o) {
    std::vector<std::vector<double>> out(labels.size());
    for (int img : images) {
        if (img < 0 || img >= v.images) throw InputError("image index " + std::to_string(img) + " is outside the set");
        const std::vector<int> top = topKNeurons(v.vector(img, gender, layer), v.features, o.k, o.rankBy);
        for (std::size_t li = 0; li < labels.size(); ++li) {
            const float* x = v.vector(img, labels[li], layer);
            for (int n : top) out[li].push_back(x[n]);
        }
    }
    return out;
}

void checkTargets(const RelevanceTensorView& v, int gender, const std::vector<int>& labels) {
    if (gender < 0 || gender >= v.targets) throw InputError("gender target index outside the relevance tensor");
    for (int l : labels)
        if (l < 0 || l >= v.targets) throw InputError("label index " + std::to_string(l) + " outside the relevance tensor");
}

}  // namespace

std::vector<LabelTest> pairedLabelTests(const RelevanceTensorView& v, const std::vector<int>& images, int gender, const std::vector<int>& labels,
                                        const TopKOptions& o) {
    checkTargets(v, gender, labels);
    std::vector<LabelTest> out;
    for (int layer = 0; layer < v.layers; ++layer) {
        const auto values = valuesAtGenderTopK(v, images, gender, layer, labels, o);
        for (std::size_t a = 0; a < labels.size(); ++a)
            for (std::size_t b = a + 1; b < labels.size(); ++b) {
                LabelTest t;
                t.label1 = labels[a];
                t.label2 = labels[b];
                t.layer = layer;
                t.result = pairedTTest(values[a], values[b]);
                out.push_back(std::move(t));
            }
    }
    return out;
}

std::vector<LabelTest> independentLabelTests(const RelevanceTensorView& male, const std::vector<int>& malePassing, int maleGender,
                                             const RelevanceTensorView& female, const std::vector<int>& femalePassing, int femaleGender,
                                             const std::vector<int>& labels, const TopKOptions& o) {
    checkTargets(male, maleGender, labels);
    checkTargets(female, femaleGender, labels);
    if (male.layers != female.layers || male.features != female.features) throw InputError("male and female relevance differ in layers or features");
    std::vector<LabelTest> out;
    for (int layer = 0; layer < male.layers; ++layer) {
        const auto x = valuesAtGenderTopK(male, malePassing, maleGender, layer, labels, o);
        const auto y = valuesAtGenderTopK(female, femalePassing, femaleGender, layer, labels, o);
        for (std::size_t li = 0; li < labels.size(); ++li) {
            LabelTest t;
            t.label1 = labels[li];
            t.layer = layer;
            t.result = independentTTest(x[li], y[li]);
            out.push_back(std::move(t));
        }
    }
    return out;
}

void applyJointFdr(const std::vector<std::vector<LabelTest>*>& families, double alpha) {
    std::vector<double> p;
    for (const auto* f : families)
        for (const auto& t : *f) p.push_back(t.result.p);
    const FdrResult fdr = benjaminiHochberg(p, alpha);
    std::size_t i = 0;
    for (auto* f : families)
        for (auto& t : *f) {
            t.q = fdr.q[i];
            t.significant = fdr.reject[i] && fdr.q[i] < alpha;
            ++i;
        }
}

}  // namespace biasscope::analysis
