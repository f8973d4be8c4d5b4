#include "analysis/TTest.h"

#include <cmath>
#include <limits>
#include <numeric>

#include <boost/math/distributions/students_t.hpp>

namespace biasscope::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TTestResult invalid(std::string reason, std::size_t nx, std::size_t ny) {
    TTestResult r;
    r.t = r.p = r.dof = r.cohenD = r.meanX = r.meanY = r.sem = kNaN;
    r.nX = nx;
    r.nY = ny;
    r.invalidReason = std::move(reason);
    return r;
}

bool allFinite(const std::vector<double>& x) {
    for (double v : x)
        if (!std::isfinite(v)) return false;
    return true;
}

}  // namespace

double mean(const std::vector<double>& x) {
    if (x.empty()) return kNaN;
    return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}

double sampleVariance(const std::vector<double>& x) {
    if (x.size() < 2) return kNaN;
    const double m = mean(x);
    double s = 0;
    for (double v : x) s += (v - m) * (v - m);
    return s / static_cast<double>(x.size() - 1);
}

double standardErrorOfMean(const std::vector<double>& x) { return std::sqrt(sampleVariance(x) / static_cast<double>(x.size())); }

double twoSidedTPValue(double t, double dof) {
    if (!std::isfinite(t) || !(dof > 0)) return kNaN;
    const boost::math::students_t dist(dof);
    return std::min(1.0, 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(t))));
}

TTestResult pairedTTest(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size()) return invalid("paired samples differ in length (" + std::to_string(x.size()) + " vs " + std::to_string(y.size()) + ")", x.size(), y.size());
    if (x.size() < 2) return invalid("fewer than 2 pairs", x.size(), y.size());
    if (!allFinite(x) || !allFinite(y)) return invalid("NaN or infinite value in the samples", x.size(), y.size());
    std::vector<double> d(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) d[i] = x[i] - y[i];
    const double vd = sampleVariance(d);
    if (!(vd > 0)) return invalid("all paired differences are equal (zero variance)", x.size(), y.size());
    TTestResult r;
    r.nX = r.nY = x.size();
    r.meanX = mean(x);
    r.meanY = mean(y);
    const double n = static_cast<double>(x.size());
    r.t = mean(d) / std::sqrt(vd / n);
    r.dof = n - 1;
    r.p = twoSidedTPValue(r.t, r.dof);
    // d_avg (pingouin paired convention): mean difference over the average of the two variances
    r.cohenD = std::fabs((r.meanX - r.meanY) / std::sqrt((sampleVariance(x) + sampleVariance(y)) / 2.0));
    return r;
}

namespace {

TTestResult twoSample(const std::vector<double>& x, const std::vector<double>& y, bool welch) {
    if (x.size() < 2 || y.size() < 2) return invalid("each group needs at least 2 values (" + std::to_string(x.size()) + ", " + std::to_string(y.size()) + ")", x.size(), y.size());
    if (!allFinite(x) || !allFinite(y)) return invalid("NaN or infinite value in the samples", x.size(), y.size());
    const double nx = static_cast<double>(x.size()), ny = static_cast<double>(y.size());
    const double vx = sampleVariance(x), vy = sampleVariance(y);
    if (!(vx > 0) && !(vy > 0)) return invalid("both groups have zero variance", x.size(), y.size());
    TTestResult r;
    r.nX = x.size();
    r.nY = y.size();
    r.welch = welch;
    r.meanX = mean(x);
    r.meanY = mean(y);
    const double pooled = ((nx - 1) * vx + (ny - 1) * vy) / (nx + ny - 2);
    if (welch) {
        const double a = vx / nx, b = vy / ny;
        r.t = (r.meanX - r.meanY) / std::sqrt(a + b);
        r.dof = (a + b) * (a + b) / (a * a / (nx - 1) + b * b / (ny - 1));  // Welch-Satterthwaite
    } else {
        r.t = (r.meanX - r.meanY) / std::sqrt(pooled * (1 / nx + 1 / ny));
        r.dof = nx + ny - 2;
    }
    r.p = twoSidedTPValue(r.t, r.dof);
    r.cohenD = std::fabs((r.meanX - r.meanY) / std::sqrt(pooled));
    return r;
}

}  // namespace

TTestResult studentTTest(const std::vector<double>& x, const std::vector<double>& y) { return twoSample(x, y, false); }
TTestResult welchTTest(const std::vector<double>& x, const std::vector<double>& y) { return twoSample(x, y, true); }
TTestResult independentTTest(const std::vector<double>& x, const std::vector<double>& y) { return twoSample(x, y, x.size() != y.size()); }

TTestResult oneSampleTTest(const std::vector<double>& x, double popmean) {
    if (x.size() < 2) return invalid("fewer than 2 values", x.size(), 0);
    if (!allFinite(x)) return invalid("NaN or infinite value in the sample", x.size(), 0);
    const double v = sampleVariance(x);
    if (!(v > 0)) return invalid("all values are equal (zero variance)", x.size(), 0);
    TTestResult r;
    r.nX = x.size();
    r.meanX = mean(x);
    r.sem = std::sqrt(v / static_cast<double>(x.size()));
    r.t = (r.meanX - popmean) / r.sem;
    r.dof = static_cast<double>(x.size()) - 1;
    r.p = twoSidedTPValue(r.t, r.dof);
    r.cohenD = std::fabs((r.meanX - popmean) / std::sqrt(v));
    return r;
}

}  // namespace biasscope::analysis
