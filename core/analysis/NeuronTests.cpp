#include "analysis/NeuronTests.h"

#include "analysis/MultipleTesting.h"
#include "common/Error.h"

namespace biasscope::analysis {

namespace {

void checkTarget(const RelevanceTensorView& v, int target, const std::vector<int>& images) {
    if (target < 0 || target >= v.targets) throw InputError("target index " + std::to_string(target) + " outside the relevance tensor");
    for (int i : images)
        if (i < 0 || i >= v.images) throw InputError("image index " + std::to_string(i) + " is outside the set");
}

std::vector<double> column(const RelevanceTensorView& v, const std::vector<int>& images, int target, int layer, int neuron) {
    std::vector<double> out;
    out.reserve(images.size());
    for (int i : images) out.push_back(v.vector(i, target, layer)[neuron]);
    return out;
}

void finish(std::vector<NeuronTest>& tests, double alpha) {
    std::vector<double> p;
    p.reserve(tests.size());
    for (auto& t : tests) {
        t.d = signedCohenD(t.result);
        p.push_back(t.result.p);
    }
    const FdrResult fdr = benjaminiHochberg(p, alpha);
    for (std::size_t i = 0; i < tests.size(); ++i) {
        tests[i].q = fdr.q[i];
        tests[i].significant = fdr.reject[i];
    }
}

}  // namespace

std::vector<NeuronTest> pairedNeuronTests(const RelevanceTensorView& v, const std::vector<int>& images, int a, int b, double alpha) {
    checkTarget(v, a, images);
    checkTarget(v, b, images);
    std::vector<NeuronTest> out;
    out.reserve(static_cast<std::size_t>(v.layers) * static_cast<std::size_t>(v.features));
    for (int l = 0; l < v.layers; ++l)
        for (int n = 0; n < v.features; ++n) out.push_back({l, n, pairedTTest(column(v, images, a, l, n), column(v, images, b, l, n)), 0, 0, false});
    finish(out, alpha);
    return out;
}

std::vector<NeuronTest> independentNeuronTests(const RelevanceTensorView& x, const std::vector<int>& xi, int tx, const RelevanceTensorView& y,
                                               const std::vector<int>& yi, int ty, double alpha) {
    checkTarget(x, tx, xi);
    checkTarget(y, ty, yi);
    if (x.layers != y.layers || x.features != y.features) throw InputError("the two sets' relevance differ in layers or features");
    std::vector<NeuronTest> out;
    out.reserve(static_cast<std::size_t>(x.layers) * static_cast<std::size_t>(x.features));
    for (int l = 0; l < x.layers; ++l)
        for (int n = 0; n < x.features; ++n) out.push_back({l, n, independentTTest(column(x, xi, tx, l, n), column(y, yi, ty, l, n)), 0, 0, false});
    finish(out, alpha);
    return out;
}

}  // namespace biasscope::analysis
