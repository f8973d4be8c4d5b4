#pragma once
// Student t-tests with the conventions of pingouin.ttest as used by the published study
// (method.md section 4): two-sided p, |d| as effect size. Plain vectors in, no LibTorch.
#include <string>
#include <vector>

namespace biasscope::analysis {

struct TTestResult {
    double t = 0, p = 0, dof = 0;
    double cohenD = 0;  // |d|: d_avg for paired tests, pooled-sd Cohen d for independent tests, mean/sd for one-sample
    double meanX = 0, meanY = 0;
    double sem = 0;     // one-sample: standard error of the mean (ddof 1)
    std::size_t nX = 0, nY = 0;
    bool welch = false;
    std::string invalidReason;  // non-empty => every number is NaN
    bool valid() const { return invalidReason.empty(); }
};

double mean(const std::vector<double>& x);
double sampleVariance(const std::vector<double>& x);  // ddof 1
double standardErrorOfMean(const std::vector<double>& x);

// Two-sided p of a t statistic with `dof` degrees of freedom (Boost.Math Student t).
double twoSidedTPValue(double t, double dof);

TTestResult pairedTTest(const std::vector<double>& x, const std::vector<double>& y);
// Student t-test when both samples have the same size, else Welch (the published rule).
TTestResult independentTTest(const std::vector<double>& x, const std::vector<double>& y);
TTestResult studentTTest(const std::vector<double>& x, const std::vector<double>& y);
TTestResult welchTTest(const std::vector<double>& x, const std::vector<double>& y);
TTestResult oneSampleTTest(const std::vector<double>& x, double popmean = 0.0);

// |d| with the sign of meanX - meanY (the effect sizes of the per-image and per-neuron tests).
inline double signedCohenD(const TTestResult& r) { return r.meanX >= r.meanY ? r.cohenD : -r.cohenD; }

}  // namespace biasscope::analysis
