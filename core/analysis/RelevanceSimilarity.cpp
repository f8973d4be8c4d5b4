#include "analysis/RelevanceSimilarity.h"

#include <cmath>
#include <limits>

#include "analysis/MultipleTesting.h"
#include "analysis/TTest.h"
#include "common/Error.h"

namespace biasscope::analysis {

std::vector<double> pooledCosineToReference(const RelevanceTensorView& v, int reference, double stdFloor) {
    if (!v.data || v.images <= 0 || v.targets <= 0 || v.layers <= 0 || v.features <= 0) throw InputError("similarity pool is empty");
    if (reference < 0 || reference >= v.targets) throw InputError("reference target " + std::to_string(reference) + " is outside the pool");
    const std::size_t F = static_cast<std::size_t>(v.features);
    const double rows = static_cast<double>(v.images) * v.targets * v.layers;
    // feature-wise pooled mean and population std (two passes, double accumulation)
    std::vector<double> mean(F, 0.0), invStd(F, 0.0);
    for (int i = 0; i < v.images; ++i)
        for (int t = 0; t < v.targets; ++t)
            for (int l = 0; l < v.layers; ++l) {
                const float* x = v.vector(i, t, l);
                for (std::size_t f = 0; f < F; ++f) mean[f] += x[f];
            }
    for (auto& m : mean) m /= rows;
    for (int i = 0; i < v.images; ++i)
        for (int t = 0; t < v.targets; ++t)
            for (int l = 0; l < v.layers; ++l) {
                const float* x = v.vector(i, t, l);
                for (std::size_t f = 0; f < F; ++f) invStd[f] += (x[f] - mean[f]) * (x[f] - mean[f]);
            }
    for (auto& s : invStd) {
        const double sd = std::sqrt(s / rows);
        s = 1.0 / (sd == 0.0 ? stdFloor : sd);
        if (!std::isfinite(s)) throw InputError("similarity pool contains NaN or infinite values");
    }
    std::vector<double> out(static_cast<std::size_t>(v.images) * v.targets * v.layers);
    std::vector<double> zr(F);
    for (int i = 0; i < v.images; ++i)
        for (int l = 0; l < v.layers; ++l) {
            const float* r = v.vector(i, reference, l);
            double rr = 0;
            for (std::size_t f = 0; f < F; ++f) {
                zr[f] = (r[f] - mean[f]) * invStd[f];
                rr += zr[f] * zr[f];
            }
            for (int t = 0; t < v.targets; ++t) {
                const float* x = v.vector(i, t, l);
                double xr = 0, xx = 0;
                for (std::size_t f = 0; f < F; ++f) {
                    const double z = (x[f] - mean[f]) * invStd[f];
                    xr += z * zr[f];
                    xx += z * z;
                }
                const double denom = std::sqrt(xx * rr);
                out[(static_cast<std::size_t>(i) * v.targets + t) * v.layers + l] = denom > 0 ? xr / denom : std::numeric_limits<double>::quiet_NaN();
            }
        }
    return out;
}

std::vector<SimilarityCell> aggregateSimilarity(const std::vector<double>& cos, int targets, int layers, int reference, const std::vector<int>& imagesOfSet,
                                                const std::vector<bool>& passing, double alpha, const BootstrapOptions* meanCi) {
    if (passing.size() != imagesOfSet.size()) throw InputError("passing flags and image list differ in length");
    std::vector<SimilarityCell> cells;
    std::vector<double> p;
    std::vector<std::vector<double>> samples;  // per cell, for the CIs
    for (int t = 0; t < targets; ++t) {
        if (t == reference) continue;
        for (int l = 0; l < layers; ++l) {
            std::vector<double> x;
            for (std::size_t k = 0; k < imagesOfSet.size(); ++k)
                if (passing[k]) x.push_back(cos.at((static_cast<std::size_t>(imagesOfSet[k]) * targets + t) * layers + l));
            const TTestResult r = oneSampleTTest(x, 0.0);
            SimilarityCell c;
            c.target = t;
            c.layer = l;
            c.n = static_cast<int>(x.size());
            c.mean = x.empty() ? std::numeric_limits<double>::quiet_NaN() : mean(x);
            c.sem = x.size() < 2 ? std::numeric_limits<double>::quiet_NaN() : standardErrorOfMean(x);
            c.t = r.t;
            c.p = r.p;
            c.invalidReason = r.invalidReason;
            cells.push_back(c);
            p.push_back(r.p);
            samples.push_back(std::move(x));
        }
    }
    const int n = cells.empty() ? 0 : cells.front().n;
    if (meanCi && n >= 1) {  // every cell has the set's passing images: one resample of images for all cells
        const auto ci = bootstrapCi(
            n,
            [&](const std::vector<int>& idx) {
                std::vector<double> m(samples.size());
                for (std::size_t c = 0; c < samples.size(); ++c) {
                    double s = 0;
                    for (int i : idx) s += samples[c][static_cast<std::size_t>(i)];
                    m[c] = s / static_cast<double>(idx.size());
                }
                return m;
            },
            *meanCi);
        for (std::size_t c = 0; c < cells.size(); ++c) cells[c].meanCi = ci[c];
    }
    const FdrResult fdr = benjaminiHochberg(p, alpha);
    for (std::size_t i = 0; i < cells.size(); ++i) {
        cells[i].q = fdr.q[i];
        cells[i].significant = fdr.reject[i] && cells[i].q < alpha;
    }
    return cells;
}

}  // namespace biasscope::analysis
