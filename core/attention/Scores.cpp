#include "attention/Scores.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace biasscope::attention {

namespace {
double sum(const float* v, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += v[i];
    return s;
}
}  // namespace

double attentionIoU(const float* P, const float* Q, std::size_t n) {
    const double sp = sum(P, n), sq = sum(Q, n);
    double num = 0, den = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double p = P[i] / sp, q = Q[i] / sq;
        num += p * q;
        den += (p + q) * (p + q);
    }
    return 4 * num / den;
}

double elementAbs(const float* P, const float* Q, std::size_t n) {
    const double sp = sum(P, n), sq = sum(Q, n);
    double tv = 0;
    for (std::size_t i = 0; i < n; ++i) tv += std::abs(P[i] / sp - Q[i] / sq);
    return 1 - tv / 2;
}

double topKIoU(const float* P, const float* Q, std::size_t n) {
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) k += Q[i] > 0.5f;
    if (k == 0) return std::numeric_limits<double>::quiet_NaN();
    std::vector<std::size_t> idx(n);
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return P[a] > P[b]; });
    std::size_t inter = 0;
    for (std::size_t j = 0; j < k; ++j) inter += Q[idx[j]] > 0.5f;
    return static_cast<double>(inter) / static_cast<double>(2 * k - inter);  // |T| = |B| = k
}

double pointingGame(const float* P, const float* Q, std::size_t n) {
    const std::size_t i = static_cast<std::size_t>(std::max_element(P, P + n) - P);
    return Q[i] / sum(Q, n);
}

double uniformBaseline(double f) { return 4 * f / (1 + 3 * f); }

}  // namespace biasscope::attention
