#include "analysis/Bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <boost/math/distributions/normal.hpp>

#include "common/Error.h"

namespace biasscope::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// SplitMix64 (Steele, Lea, Flood 2014): tiny, portable, and the same stream everywhere.
struct SplitMix64 {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // uniform in [0, n) without modulo bias
    int below(int n) {
        const std::uint64_t un = static_cast<std::uint64_t>(n);
        const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % un;
        std::uint64_t x;
        do x = next();
        while (x >= limit);
        return static_cast<int>(x % un);
    }
};

double ndtri(double p) {
    if (std::isnan(p)) return kNaN;
    if (p <= 0) return -std::numeric_limits<double>::infinity();
    if (p >= 1) return std::numeric_limits<double>::infinity();
    return boost::math::quantile(boost::math::normal_distribution<double>(), p);
}

double ndtr(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

void checkOptions(int n, int resamples, double confidence) {
    if (n < 1) throw InputError("bootstrap: no observations");
    if (resamples < 1) throw InputError("bootstrap resamples must be at least 1 (got " + std::to_string(resamples) + ")");
    if (!(confidence > 0 && confidence < 1)) throw InputError("bootstrap confidence must lie in (0, 1)");
}

std::vector<int> leaveOneOut(int n, int i) {
    std::vector<int> idx;
    idx.reserve(static_cast<std::size_t>(n - 1));
    for (int j = 0; j < n; ++j)
        if (j != i) idx.push_back(j);
    return idx;
}

std::vector<int> identity(int n) {
    std::vector<int> idx(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) idx[static_cast<std::size_t>(i)] = i;
    return idx;
}

// BCa's acceleration from per-sample jackknife values (scipy's multi-sample form, Efron & Tibshirani 15.36)
double acceleration(const std::vector<std::vector<double>>& jackknifeBySample) {
    double num = 0, den = 0;
    for (const auto& theta : jackknifeBySample) {
        const double n = static_cast<double>(theta.size());
        double dot = 0;
        for (double t : theta) dot += t;
        dot /= n;
        double s2 = 0, s3 = 0;
        for (double t : theta) {
            const double u = (n - 1) * (dot - t);
            s2 += u * u;
            s3 += u * u * u;
        }
        num += s3 / (n * n * n);
        den += s2 / (n * n);
    }
    return num / 6.0 / std::pow(den, 1.5);
}

// numpy's linear quantiles of x at the fractions qs, by successive selection (O(n) per quantile
// instead of a full sort: a study computes tens of thousands of intervals); x is reordered.
std::vector<double> quantilesLinear(std::vector<double>& x, const std::vector<double>& qs) {
    std::vector<std::size_t> positions;
    for (double q : qs) {
        const double h = (static_cast<double>(x.size()) - 1) * std::clamp(q, 0.0, 1.0);
        const std::size_t lo = static_cast<std::size_t>(std::floor(h));
        positions.push_back(lo);
        positions.push_back(std::min(lo + 1, x.size() - 1));
    }
    std::vector<std::size_t> order = positions;
    std::sort(order.begin(), order.end());
    order.erase(std::unique(order.begin(), order.end()), order.end());
    std::size_t from = 0;
    for (std::size_t p : order) {  // after each step x[p] is the p-th smallest and nothing after it is smaller
        std::nth_element(x.begin() + static_cast<std::ptrdiff_t>(from), x.begin() + static_cast<std::ptrdiff_t>(p), x.end());
        from = p + 1;
    }
    std::vector<double> out;
    for (std::size_t i = 0; i < qs.size(); ++i) {
        const double h = (static_cast<double>(x.size()) - 1) * std::clamp(qs[i], 0.0, 1.0);
        const std::size_t lo = positions[2 * i], hi = positions[2 * i + 1];
        out.push_back(x[lo] + (h - static_cast<double>(lo)) * (x[hi] - x[lo]));
    }
    return out;
}

BootstrapCi intervals(double estimate, std::vector<double> distribution, const std::vector<std::vector<double>>& jackknifeBySample, double confidence) {
    BootstrapCi ci;
    ci.estimate = estimate;
    ci.resamples = static_cast<int>(distribution.size());
    const double alpha = (1 - confidence) / 2;
    bool finite = std::isfinite(estimate);
    for (double d : distribution) finite = finite && std::isfinite(d);
    if (!finite) {
        ci.percentile = ci.bca = {kNaN, kNaN};
        ci.bcaInvalidReason = "the statistic is NaN or infinite on the data or a resample";
        return ci;
    }
    std::size_t below = 0, atOrBelow = 0;
    for (double d : distribution) {
        below += d < estimate;
        atOrBelow += d <= estimate;
    }
    const double z0 = ndtri(static_cast<double>(below + atOrBelow) / (2.0 * static_cast<double>(distribution.size())));
    const double a = acceleration(jackknifeBySample);
    const double zAlpha = ndtri(alpha);
    const double n1 = z0 + zAlpha, n2 = z0 - zAlpha;
    const double alpha1 = ndtr(z0 + n1 / (1 - a * n1)), alpha2 = ndtr(z0 + n2 / (1 - a * n2));
    const bool bca = std::isfinite(alpha1) && std::isfinite(alpha2);
    const auto q = quantilesLinear(distribution, bca ? std::vector<double>{alpha, 1 - alpha, alpha1, alpha2} : std::vector<double>{alpha, 1 - alpha});
    ci.percentile = {q[0], q[1]};
    if (!bca) {
        ci.bca = {kNaN, kNaN};
        ci.bcaInvalidReason = !std::isfinite(a) ? "degenerate jackknife (every leave-one-out value is equal)"
                                                : "degenerate bootstrap distribution (the estimate lies outside it)";
        return ci;
    }
    ci.bca = {q[2], q[3]};
    return ci;
}

}  // namespace

double percentileLinear(std::vector<double> x, double q) {
    if (x.empty()) return kNaN;
    return quantilesLinear(x, {q / 100.0})[0];
}

std::vector<std::vector<int>> bootstrapIndices(int n, int resamples, std::uint64_t seed) {
    checkOptions(n, resamples, 0.5);
    SplitMix64 rng{seed};
    std::vector<std::vector<int>> out(static_cast<std::size_t>(resamples), std::vector<int>(static_cast<std::size_t>(n)));
    for (auto& row : out)
        for (int& i : row) i = rng.below(n);
    return out;
}

BootstrapCi intervalsFrom(double estimate, std::vector<double> distribution, const std::vector<double>& jackknife, double confidence) {
    return intervals(estimate, std::move(distribution), {jackknife}, confidence);
}

BootstrapCi intervalsFromSamples(double estimate, std::vector<double> distribution, const std::vector<std::vector<double>>& jackknifeBySample,
                                 double confidence) {
    return intervals(estimate, std::move(distribution), jackknifeBySample, confidence);
}

std::pair<std::vector<std::vector<int>>, std::vector<std::vector<int>>> bootstrapIndicesTwoSample(int n1, int n2, int resamples, std::uint64_t seed) {
    checkOptions(std::min(n1, n2), resamples, 0.5);
    SplitMix64 rng{seed};  // one stream: the first sample's resamples, then the second's (as scipy draws them)
    auto draw = [&](int n) {
        std::vector<std::vector<int>> out(static_cast<std::size_t>(resamples), std::vector<int>(static_cast<std::size_t>(n)));
        for (auto& row : out)
            for (int& i : row) i = rng.below(n);
        return out;
    };
    auto first = draw(n1);
    auto second = draw(n2);
    return {std::move(first), std::move(second)};
}

std::vector<BootstrapCi> bootstrapCi(int n, const ResampledStatistic& statistic, const std::vector<std::vector<int>>& indices, double confidence) {
    checkOptions(n, static_cast<int>(indices.size()), confidence);
    const std::vector<double> estimate = statistic(identity(n));
    const std::size_t m = estimate.size();
    std::vector<std::vector<double>> dist(m, std::vector<double>(indices.size()));
    for (std::size_t b = 0; b < indices.size(); ++b) {
        if (indices[b].size() != static_cast<std::size_t>(n)) throw InputError("bootstrap: a resample has the wrong number of observations");
        const auto v = statistic(indices[b]);
        for (std::size_t j = 0; j < m; ++j) dist[j][b] = v[j];
    }
    std::vector<std::vector<double>> jack(m, std::vector<double>(static_cast<std::size_t>(n), kNaN));
    if (n >= 2)
        for (int i = 0; i < n; ++i) {
            const auto v = statistic(leaveOneOut(n, i));
            for (std::size_t j = 0; j < m; ++j) jack[j][static_cast<std::size_t>(i)] = v[j];
        }
    std::vector<BootstrapCi> out;
    for (std::size_t j = 0; j < m; ++j) out.push_back(intervals(estimate[j], std::move(dist[j]), {jack[j]}, confidence));
    return out;
}

std::vector<BootstrapCi> bootstrapCi(int n, const ResampledStatistic& statistic, const BootstrapOptions& o) {
    return bootstrapCi(n, statistic, bootstrapIndices(n, o.resamples, o.seed), o.confidence);
}

std::vector<BootstrapCi> bootstrapCiTwoSample(int n1, int n2, const TwoSampleStatistic& statistic, const std::vector<std::vector<int>>& indices1,
                                              const std::vector<std::vector<int>>& indices2, double confidence) {
    checkOptions(std::min(n1, n2), static_cast<int>(indices1.size()), confidence);
    if (indices1.size() != indices2.size()) throw InputError("bootstrap: the two samples have different numbers of resamples");
    const auto all1 = identity(n1), all2 = identity(n2);
    const std::vector<double> estimate = statistic(all1, all2);
    const std::size_t m = estimate.size();
    std::vector<std::vector<double>> dist(m, std::vector<double>(indices1.size()));
    for (std::size_t b = 0; b < indices1.size(); ++b) {
        if (indices1[b].size() != static_cast<std::size_t>(n1) || indices2[b].size() != static_cast<std::size_t>(n2))
            throw InputError("bootstrap: a resample has the wrong number of observations");
        const auto v = statistic(indices1[b], indices2[b]);
        for (std::size_t j = 0; j < m; ++j) dist[j][b] = v[j];
    }
    // jack[j][sample][i]: the statistic without observation i of that sample
    std::vector<std::vector<std::vector<double>>> jack(m, std::vector<std::vector<double>>(2));
    if (n1 >= 2 && n2 >= 2) {
        for (int i = 0; i < n1; ++i) {
            const auto v = statistic(leaveOneOut(n1, i), all2);
            for (std::size_t j = 0; j < m; ++j) jack[j][0].push_back(v[j]);
        }
        for (int i = 0; i < n2; ++i) {
            const auto v = statistic(all1, leaveOneOut(n2, i));
            for (std::size_t j = 0; j < m; ++j) jack[j][1].push_back(v[j]);
        }
    } else {
        for (auto& j : jack) j = {{kNaN}};
    }
    std::vector<BootstrapCi> out;
    for (std::size_t j = 0; j < m; ++j) out.push_back(intervals(estimate[j], std::move(dist[j]), jack[j], confidence));
    return out;
}

std::vector<BootstrapCi> bootstrapCiTwoSample(int n1, int n2, const TwoSampleStatistic& statistic, const BootstrapOptions& o) {
    checkOptions(std::min(n1, n2), o.resamples, o.confidence);
    const auto [i1, i2] = bootstrapIndicesTwoSample(n1, n2, o.resamples, o.seed);
    return bootstrapCiTwoSample(n1, n2, statistic, i1, i2, o.confidence);
}

}  // namespace biasscope::analysis
