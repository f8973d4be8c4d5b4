#include "attention/Scores.h"

#include <algorithm>
#include <functional>
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

double relevanceMassAccuracy(const float* P, const float* Q, std::size_t n) {
    double inside = 0, total = 0;
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
        total += P[i];
        if (Q[i] > 0.5f) {
            inside += P[i];
            ++k;
        }
    }
    if (k == 0 || total == 0) return std::numeric_limits<double>::quiet_NaN();
    return inside / total;
}

double relevanceRankAccuracy(const float* P, const float* Q, std::size_t n) {
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) k += Q[i] > 0.5f;
    if (k == 0) return std::numeric_limits<double>::quiet_NaN();
    std::vector<float> sorted(P, P + n);
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k - 1), sorted.end(), std::greater<float>());
    const float kth = sorted[k - 1];  // the |B|-th largest value
    double hits = 0;
    std::size_t above = 0, tied = 0, tiedHits = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (P[i] > kth) {
            ++above;
            hits += Q[i] > 0.5f;
        } else if (P[i] == kth) {
            ++tied;
            tiedHits += Q[i] > 0.5f;
        }
    }
    // k - above of the tied pixels are taken: in expectation that share of the tied pixels in B
    hits += static_cast<double>(k - above) * static_cast<double>(tiedHits) / static_cast<double>(tied);
    return hits / static_cast<double>(k);
}

double localisationAuc(const float* P, const float* Q, std::size_t n) {
    std::vector<std::size_t> idx(n);
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return P[a] < P[b]; });
    // Mann-Whitney: sum of the (mid-)ranks of the pixels in B
    double rankSum = 0;
    std::size_t pos = 0;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        std::size_t inB = 0;
        while (j < n && P[idx[j]] == P[idx[i]]) inB += Q[idx[j++]] > 0.5f;
        const double midRank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // 1-based ranks i+1 .. j
        rankSum += midRank * static_cast<double>(inB);
        pos += inB;
        i = j;
    }
    const double nPos = static_cast<double>(pos), nNeg = static_cast<double>(n - pos);
    if (pos == 0 || pos == n) return std::numeric_limits<double>::quiet_NaN();
    return (rankSum - nPos * (nPos + 1) / 2) / (nPos * nNeg);
}

}  // namespace biasscope::attention
