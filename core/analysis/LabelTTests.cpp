#include "analysis/LabelTTests.h"

#include <cmath>

#include <Eigen/Dense>

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

double pairedD(const Moments& x, const Moments& y) { return (x.mean() - y.mean()) / std::sqrt((x.var() + y.var()) / 2); }
double pooledD(const Moments& x, const Moments& y) {
    return (x.mean() - y.mean()) / std::sqrt(((x.n - 1) * x.var() + (y.n - 1) * y.var()) / (x.n + y.n - 2));
}

using MomentPairs = std::vector<std::pair<std::vector<Moments>, std::vector<Moments>>>;  // per test: x's and y's per-image moments

// counts(b, i): how often observation i is drawn in resample b
Eigen::MatrixXd countsOf(const std::vector<std::vector<int>>& indices, int n) {
    Eigen::MatrixXd w = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(indices.size()), n);
    for (std::size_t b = 0; b < indices.size(); ++b)
        for (int i : indices[b]) w(static_cast<Eigen::Index>(b), i) += 1;
    return w;
}

Moments total(const std::vector<Moments>& m) {
    Moments t;
    for (const auto& x : m) t.n += x.n, t.s += x.s, t.ss += x.ss;
    return t;
}
Moments minus(Moments t, const Moments& x) { return {t.n - x.n, t.s - x.s, t.ss - x.ss}; }

// The bootstrap CIs of d for every test at once: a resample's moment sums are (counts x per-image moments),
// one matrix product per chunk of tests instead of a pass over the images per test and resample. The
// resamples are those of bootstrapIndices / bootstrapIndicesTwoSample with the options' seed.
std::vector<BootstrapCi> effectIntervals(const MomentPairs& tests, bool paired, int n1, int n2, const BootstrapOptions& o) {
    std::vector<BootstrapCi> out;
    out.reserve(tests.size());
    const auto [i1, i2] = paired ? std::make_pair(bootstrapIndices(n1, o.resamples, o.seed), std::vector<std::vector<int>>{})
                                 : bootstrapIndicesTwoSample(n1, n2, o.resamples, o.seed);
    const Eigen::MatrixXd w1 = countsOf(i1, n1), w2 = paired ? Eigen::MatrixXd() : countsOf(i2, n2);
    auto d = [paired](const Moments& x, const Moments& y) { return paired ? pairedD(x, y) : pooledD(x, y); };
    // every test of a family has the same per-image counts (k values per image pooled, or 1): resampled once
    Eigen::VectorXd cx(n1), cy(paired ? n1 : n2);
    for (int i = 0; i < n1; ++i) cx(i) = tests.front().first[static_cast<std::size_t>(i)].n;
    for (Eigen::Index i = 0; i < cy.size(); ++i) cy(i) = tests.front().second[static_cast<std::size_t>(i)].n;
    for (const auto& [x, y] : tests)
        for (std::size_t i = 0; i < x.size(); ++i)
            if (x[i].n != cx(static_cast<Eigen::Index>(i)) || y[std::min(i, y.size() - 1)].n != cy(static_cast<Eigen::Index>(std::min(i, y.size() - 1))))
                throw InputError("bootstrap of the label tests: the images' value counts differ between tests");
    const Eigen::VectorXd nx = w1 * cx, ny = paired ? Eigen::VectorXd(w1 * cy) : Eigen::VectorXd(w2 * cy);
    constexpr std::size_t kChunk = 64;
    const Eigen::Index stride = paired ? 4 : 2;  // per test: sum and sum of squares of x (and of y beside them, paired)
    for (std::size_t start = 0; start < tests.size(); start += kChunk) {
        const std::size_t m = std::min(kChunk, tests.size() - start);
        Eigen::MatrixXd mx(n1, static_cast<Eigen::Index>(m) * stride), my;
        if (!paired) my.resize(n2, static_cast<Eigen::Index>(2 * m));
        for (std::size_t j = 0; j < m; ++j) {
            const auto& [x, y] = tests[start + j];
            const Eigen::Index c = static_cast<Eigen::Index>(j) * stride;
            for (int i = 0; i < n1; ++i) {
                mx(i, c) = x[static_cast<std::size_t>(i)].s, mx(i, c + 1) = x[static_cast<std::size_t>(i)].ss;
                if (paired) mx(i, c + 2) = y[static_cast<std::size_t>(i)].s, mx(i, c + 3) = y[static_cast<std::size_t>(i)].ss;
            }
            if (!paired)
                for (int i = 0; i < n2; ++i) my(i, 2 * static_cast<Eigen::Index>(j)) = y[static_cast<std::size_t>(i)].s, my(i, 2 * static_cast<Eigen::Index>(j) + 1) = y[static_cast<std::size_t>(i)].ss;
        }
        const Eigen::MatrixXd sx = w1 * mx, sy = paired ? Eigen::MatrixXd() : Eigen::MatrixXd(w2 * my);
        for (std::size_t j = 0; j < m; ++j) {
            const auto& [x, y] = tests[start + j];
            std::vector<double> dist(static_cast<std::size_t>(o.resamples));
            const Eigen::Index c = static_cast<Eigen::Index>(j) * stride;
            for (Eigen::Index b = 0; b < static_cast<Eigen::Index>(o.resamples); ++b) {
                const Moments bx{nx(b), sx(b, c), sx(b, c + 1)};
                const Moments by = paired ? Moments{ny(b), sx(b, c + 2), sx(b, c + 3)} : Moments{ny(b), sy(b, 2 * static_cast<Eigen::Index>(j)), sy(b, 2 * static_cast<Eigen::Index>(j) + 1)};
                dist[static_cast<std::size_t>(b)] = d(bx, by);
            }
            const Moments tx = total(x), ty = total(y);
            std::vector<std::vector<double>> jack;
            if (paired) {
                jack.emplace_back();
                for (int i = 0; i < n1 && n1 >= 2; ++i) jack.back().push_back(d(minus(tx, x[static_cast<std::size_t>(i)]), minus(ty, y[static_cast<std::size_t>(i)])));
            } else {
                jack.resize(2);
                for (int i = 0; i < n1 && n1 >= 2 && n2 >= 2; ++i) jack[0].push_back(d(minus(tx, x[static_cast<std::size_t>(i)]), ty));
                for (int i = 0; i < n2 && n1 >= 2 && n2 >= 2; ++i) jack[1].push_back(d(tx, minus(ty, y[static_cast<std::size_t>(i)])));
            }
            if (jack.front().empty()) jack = {{std::nan("")}};
            out.push_back(intervalsFromSamples(d(tx, ty), std::move(dist), jack, o.confidence));
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
                t.d = signedCohenD(t.result);
                out.push_back(std::move(t));
                if (o.effectCi) moments.emplace_back(momentsOf(groups[a], o.unit), momentsOf(groups[b], o.unit));
            }
    }
    if (o.effectCi && !out.empty() && !images.empty()) {
        const auto ci = effectIntervals(moments, true, static_cast<int>(images.size()), 0, *o.effectCi);
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
            t.d = signedCohenD(t.result);
            out.push_back(std::move(t));
            if (o.effectCi) moments.emplace_back(momentsOf(x[li], o.unit), momentsOf(y[li], o.unit));
        }
    }
    if (o.effectCi && !out.empty() && !malePassing.empty() && !femalePassing.empty()) {
        const auto ci = effectIntervals(moments, false, static_cast<int>(malePassing.size()), static_cast<int>(femalePassing.size()), *o.effectCi);
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
