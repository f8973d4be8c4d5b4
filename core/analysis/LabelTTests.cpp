#include "analysis/LabelTTests.h"

#include <cmath>

#include "analysis/MultipleTesting.h"
#include "common/Error.h"

namespace biasscope::analysis {

const char* toString(TestUnit u) { return u == TestUnit::PooledImageTopK ? "image x top-k, pooled (as published)" : "image (mean of its top-k)"; }
const char* familySuffix(TestUnit u) { return u == TestUnit::PooledImageTopK ? "" : "_per_image"; }

namespace {

// groups[label][i] = label's values at image images[i]'s own top-k gender neurons (one layer)
using Groups = std::vector<std::vector<std::vector<double>>>;

Groups valuesAtGenderTopK(const RelevanceTensorView& v, const std::vector<int>& images, int gender, int layer, const std::vector<int>& labels,
                          const TopKOptions& o) {
    Groups out(labels.size(), std::vector<std::vector<double>>(images.size()));
    for (std::size_t i = 0; i < images.size(); ++i) {
        const int img = images[i];
        if (img < 0 || img >= v.images) throw InputError("image index " + std::to_string(img) + " is outside the set");
        const std::vector<int> top = topKNeurons(v.vector(img, gender, layer), v.features, o.k, o.rankBy);
        for (std::size_t li = 0; li < labels.size(); ++li) {
            const float* x = v.vector(img, labels[li], layer);
            for (int n : top) out[li][i].push_back(x[n]);
        }
    }
    return out;
}

// the test's sample: pooled (every value) or one mean per image
std::vector<double> sampleOf(const std::vector<std::vector<double>>& perImage, TestUnit unit) {
    std::vector<double> out;
    for (const auto& g : perImage) {
        if (unit == TestUnit::PooledImageTopK) {
            out.insert(out.end(), g.begin(), g.end());
        } else {
            double s = 0;
            for (double x : g) s += x;
            out.push_back(s / static_cast<double>(g.size()));
        }
    }
    return out;
}

// Per image: count, sum and sum of squares of its contribution to the sample, so a resample of images
// is summed in O(images).
struct Moments {
    double n = 0, s = 0, ss = 0;
    double mean() const { return s / n; }
    double var() const { return (ss - s * s / n) / (n - 1); }
};

std::vector<Moments> momentsOf(const std::vector<std::vector<double>>& perImage, TestUnit unit) {
    std::vector<Moments> out;
    for (const auto& g : perImage) {
        Moments m;
        if (unit == TestUnit::PooledImageTopK) {
            for (double x : g) {
                m.n += 1;
                m.s += x;
                m.ss += x * x;
            }
        } else {
            double s = 0;
            for (double x : g) s += x;
            s /= static_cast<double>(g.size());
            m = {1, s, s * s};
        }
        out.push_back(m);
    }
    return out;
}

Moments sum(const std::vector<Moments>& m, const std::vector<int>& idx) {
    Moments t;
    for (int i : idx) {
        const Moments& x = m[static_cast<std::size_t>(i)];
        t.n += x.n;
        t.s += x.s;
        t.ss += x.ss;
    }
    return t;
}

double pairedD(const Moments& x, const Moments& y) { return (x.mean() - y.mean()) / std::sqrt((x.var() + y.var()) / 2); }
double pooledD(const Moments& x, const Moments& y) {
    return (x.mean() - y.mean()) / std::sqrt(((x.n - 1) * x.var() + (y.n - 1) * y.var()) / (x.n + y.n - 2));
}

double signedD(const TTestResult& r) { return r.meanX >= r.meanY ? r.cohenD : -r.cohenD; }

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
    std::vector<std::pair<std::vector<Moments>, std::vector<Moments>>> moments;  // per test, for the CIs
    for (int layer = 0; layer < v.layers; ++layer) {
        const auto groups = valuesAtGenderTopK(v, images, gender, layer, labels, o);
        for (std::size_t a = 0; a < labels.size(); ++a)
            for (std::size_t b = a + 1; b < labels.size(); ++b) {
                LabelTest t;
                t.label1 = labels[a];
                t.label2 = labels[b];
                t.layer = layer;
                t.result = pairedTTest(sampleOf(groups[a], o.unit), sampleOf(groups[b], o.unit));
                t.d = signedD(t.result);
                out.push_back(std::move(t));
                if (o.effectCi) moments.emplace_back(momentsOf(groups[a], o.unit), momentsOf(groups[b], o.unit));
            }
    }
    if (o.effectCi && !out.empty() && !images.empty()) {
        const auto ci = bootstrapCi(
            static_cast<int>(images.size()),
            [&](const std::vector<int>& idx) {
                std::vector<double> d;
                d.reserve(moments.size());
                for (const auto& [x, y] : moments) d.push_back(pairedD(sum(x, idx), sum(y, idx)));
                return d;
            },
            *o.effectCi);
        for (std::size_t i = 0; i < out.size(); ++i) out[i].dCi = ci[i];
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
    std::vector<std::pair<std::vector<Moments>, std::vector<Moments>>> moments;
    for (int layer = 0; layer < male.layers; ++layer) {
        const auto x = valuesAtGenderTopK(male, malePassing, maleGender, layer, labels, o);
        const auto y = valuesAtGenderTopK(female, femalePassing, femaleGender, layer, labels, o);
        for (std::size_t li = 0; li < labels.size(); ++li) {
            LabelTest t;
            t.label1 = labels[li];
            t.layer = layer;
            t.result = independentTTest(sampleOf(x[li], o.unit), sampleOf(y[li], o.unit));
            t.d = signedD(t.result);
            out.push_back(std::move(t));
            if (o.effectCi) moments.emplace_back(momentsOf(x[li], o.unit), momentsOf(y[li], o.unit));
        }
    }
    if (o.effectCi && !out.empty() && !malePassing.empty() && !femalePassing.empty()) {
        const auto ci = bootstrapCiTwoSample(
            static_cast<int>(malePassing.size()), static_cast<int>(femalePassing.size()),
            [&](const std::vector<int>& i1, const std::vector<int>& i2) {
                std::vector<double> d;
                d.reserve(moments.size());
                for (const auto& [mx, my] : moments) d.push_back(pooledD(sum(mx, i1), sum(my, i2)));
                return d;
            },
            *o.effectCi);
        for (std::size_t i = 0; i < out.size(); ++i) out[i].dCi = ci[i];
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
