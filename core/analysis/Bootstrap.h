#pragma once
// Seeded bootstrap confidence intervals: percentile and BCa (Efron 1987), with the conventions of
// scipy.stats.bootstrap (method 'percentile' / 'BCa'): the interval's ends are linearly interpolated
// percentiles of the bootstrap distribution; BCa's bias correction z0 = Phi^-1 of the share of
// resampled statistics below the estimate (ties count half), its acceleration from the jackknife.
// Resampling is over observations (images); two-sample statistics resample each sample on its own.
// The resample indices come from a portable generator (SplitMix64 + rejection), so a seed gives the
// same intervals on every platform and standard library. Plain vectors in, no LibTorch.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace biasscope::analysis {

struct BootstrapOptions {
    int resamples = 10000;
    std::uint64_t seed = 20261207;
    double confidence = 0.95;
};

struct Interval {
    double low = 0, high = 0;
};

struct BootstrapCi {
    double estimate = 0;      // the statistic on the data
    Interval percentile, bca;  // NaN ends where undefined (see reason)
    int resamples = 0;
    std::string bcaInvalidReason;  // e.g. "degenerate jackknife (all leave-one-out values equal)"
};

// resamples x n indices in [0, n), drawn with replacement; the stream of `seed`.
std::vector<std::vector<int>> bootstrapIndices(int n, int resamples, std::uint64_t seed);

// Indices are one sample's resample; a statistic may return several values (e.g. one per layer).
using ResampledStatistic = std::function<std::vector<double>(const std::vector<int>& indices)>;

// One CI per value of the statistic, from the given resamples (rows of `indices`); the jackknife
// leaves out each of the n observations in turn.
std::vector<BootstrapCi> bootstrapCi(int n, const ResampledStatistic& statistic, const std::vector<std::vector<int>>& indices, double confidence);
std::vector<BootstrapCi> bootstrapCi(int n, const ResampledStatistic& statistic, const BootstrapOptions& options = {});

// Two independent samples (sizes n1, n2), each resampled on its own (scipy's multi-sample bootstrap);
// the jackknife leaves out each observation of either sample in turn.
using TwoSampleStatistic = std::function<std::vector<double>(const std::vector<int>& first, const std::vector<int>& second)>;
std::vector<BootstrapCi> bootstrapCiTwoSample(int n1, int n2, const TwoSampleStatistic& statistic, const std::vector<std::vector<int>>& indices1,
                                              const std::vector<std::vector<int>>& indices2, double confidence);
// indices: `resamples` rows of the first sample, then `resamples` rows of the second, from one stream of `seed`
std::vector<BootstrapCi> bootstrapCiTwoSample(int n1, int n2, const TwoSampleStatistic& statistic, const BootstrapOptions& options = {});

// The indices bootstrapCiTwoSample(.., options) draws: the first sample's rows, then the second's.
std::pair<std::vector<std::vector<int>>, std::vector<std::vector<int>>> bootstrapIndicesTwoSample(int n1, int n2, int resamples, std::uint64_t seed);

// The interval from a bootstrap distribution and jackknife values (one list per sample), for callers
// that compute the resampled statistics themselves (e.g. many statistics at once as a matrix product).
BootstrapCi intervalsFrom(double estimate, std::vector<double> distribution, const std::vector<double>& jackknife, double confidence);
BootstrapCi intervalsFromSamples(double estimate, std::vector<double> distribution, const std::vector<std::vector<double>>& jackknifeBySample,
                                 double confidence);

// numpy.percentile(x, q) with linear interpolation; x need not be sorted. q in [0, 100].
double percentileLinear(std::vector<double> x, double q);

}  // namespace biasscope::analysis
