#include "attention/Aggregation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "common/Error.h"

namespace biasscope::attention {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// nanmean and population std (ddof 0) of the finite values; count 0 gives NaN, NaN
struct MeanStd {
    double mean = kNaN, std = kNaN;
    int n = 0;
};
template <typename Get>
MeanStd nanMeanStd(std::size_t count, Get value) {
    MeanStd r;
    double s = 0;
    for (std::size_t k = 0; k < count; ++k)
        if (!std::isnan(value(k))) s += value(k), ++r.n;
    if (r.n == 0) return r;
    r.mean = s / r.n;
    double ss = 0;
    for (std::size_t k = 0; k < count; ++k)
        if (!std::isnan(value(k))) ss += (value(k) - r.mean) * (value(k) - r.mean);
    r.std = std::sqrt(ss / r.n);
    return r;
}

std::string fmt(double v) {
    if (std::isnan(v)) return "nan";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.8f", v);
    return buf;
}
}  // namespace

const std::vector<std::string>& celebGroupNames() {
    static const std::vector<std::string> n{"TT", "TF", "FT", "FF", "all"};
    return n;
}

const std::vector<std::string>& waterbirdsGroupNames() {
    static const std::vector<std::string> n{"same", "different", "all"};
    return n;
}

std::vector<int> celebGroup(const std::vector<int>& a, const std::vector<int>& m) {
    if (a.size() != m.size()) throw InputError("celebGroup: attribute and confounder label counts differ");
    std::vector<int> g(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) g[i] = (a[i] ? 0 : 2) + (m[i] ? 0 : 1);  // TT TF FT FF
    return g;
}

std::vector<int> waterbirdsGroup(const std::vector<int>& y, const std::vector<int>& place) {
    if (y.size() != place.size()) throw InputError("waterbirdsGroup: label and place counts differ");
    std::vector<int> g(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) g[i] = y[i] == place[i] ? 0 : 1;
    return g;
}

Matrix groupMeans(const Matrix& perImage, const std::vector<int>& group, int groups, bool nanToZero) {
    if (perImage.size() != group.size()) throw InputError("groupMeans: " + std::to_string(perImage.size()) + " score rows for " + std::to_string(group.size()) + " images");
    const std::size_t cols = perImage.empty() ? 0 : perImage.front().size();
    const auto rows = static_cast<std::size_t>(groups) + 1;
    Matrix sum(rows, std::vector<double>(cols, 0.0)), count(rows, std::vector<double>(cols, 0.0));
    for (std::size_t i = 0; i < perImage.size(); ++i) {
        if (perImage[i].size() != cols) throw InputError("groupMeans: image " + std::to_string(i) + " has " + std::to_string(perImage[i].size()) + " scores, expected " + std::to_string(cols));
        for (std::size_t c = 0; c < cols; ++c) {
            double v = perImage[i][c];
            if (std::isnan(v)) {
                if (!nanToZero) continue;
                v = 0;
            }
            for (std::size_t r : {static_cast<std::size_t>(group[i]), rows - 1}) {
                sum[r][c] += v;
                count[r][c] += 1;
            }
        }
    }
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) sum[r][c] = count[r][c] > 0 ? sum[r][c] / count[r][c] : kNaN;
    return sum;
}

ModelAggregate aggregateModels(const std::vector<Matrix>& perModel) {
    if (perModel.empty()) throw InputError("aggregateModels: no models");
    const std::size_t R = perModel.front().size(), C = R ? perModel.front().front().size() : 0;
    ModelAggregate a;
    a.mean.assign(R, std::vector<double>(C, kNaN));
    a.std.assign(R, std::vector<double>(C, kNaN));
    a.models.assign(R, std::vector<int>(C, 0));
    for (const auto& m : perModel)
        if (m.size() != R || (R && m.front().size() != C)) throw InputError("aggregateModels: models have tables of different shapes");
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t c = 0; c < C; ++c) {
            const MeanStd v = nanMeanStd(perModel.size(), [&](std::size_t k) { return perModel[k][r][c]; });
            a.mean[r][c] = v.mean;
            a.std[r][c] = v.std;
            a.models[r][c] = v.n;
        }
    return a;
}

std::string celebCsv(const ModelAggregate& a) {
    std::string out;
    for (const Matrix* m : {&a.mean, &a.std})
        for (const auto& row : *m) {
            for (std::size_t c = 0; c < row.size(); ++c) {
                if (c) out += ',';
                out += fmt(row[c]);
            }
            out += "\n";
        }
    return out;
}

std::string waterbirdsCsv(const ModelAggregate& a) {
    std::string out;
    const std::size_t C = a.mean.empty() ? 0 : a.mean.front().size();
    for (std::size_t c = 0; c < C; ++c) {
        std::string line;
        for (const Matrix* m : {&a.mean, &a.std})
            for (const auto& row : *m) {
                if (!line.empty()) line += ',';
                line += fmt(row[c]);
            }
        out += line + "\n";
    }
    return out;
}

double mccFromCounts(const double x[4]) {
    // x = (A,M) (0,0), (0,1), (1,0), (1,1): G00, G01, G10, G11
    const double g00 = x[0], g01 = x[1], g10 = x[2], g11 = x[3];
    const double den = (g00 + g01) * (g10 + g11) * (g00 + g10) * (g01 + g11);
    if (den <= 0) return 0;
    return (g11 * g00 - g10 * g01) / std::sqrt(den);
}

double mcc(const std::vector<int>& a, const std::vector<int>& b) {
    if (a.size() != b.size()) throw InputError("mcc: vectors of different lengths");
    double x[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; i < a.size(); ++i) x[2 * (a[i] != 0) + (b[i] != 0)] += 1;
    return mccFromCounts(x);
}

double weightedAccuracy(const std::vector<int>& p, const std::vector<int>& t, const std::vector<double>& w) {
    if (p.size() != t.size() || w.size() != t.size()) throw InputError("weightedAccuracy: vectors of different lengths");
    double num = 0, den = 0;
    for (std::size_t i = 0; i < p.size(); ++i) num += w[i] * (p[i] == t[i]), den += w[i];
    return den > 0 ? num / den : kNaN;
}

std::vector<double> balancedSampleWeights(const std::vector<int>& train, const std::vector<int>& labels) {
    double n1 = 0;
    for (int v : train) n1 += v != 0;
    const double n = static_cast<double>(train.size()), n0 = n - n1;
    std::vector<double> w(labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const double nc = labels[i] ? n1 : n0;
        w[i] = nc > 0 ? n / (2 * nc) : 0;
    }
    return w;
}

double normalizedAP(const std::vector<double>& scores, const std::vector<int>& labels, double N) {
    if (scores.size() != labels.size()) throw InputError("normalizedAP: scores and labels differ in length");
    double P = 0;
    for (int l : labels) P += l != 0;
    if (P == 0 || P == static_cast<double>(labels.size())) return kNaN;
    std::vector<std::size_t> idx(scores.size());
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    double tp = 0, fp = 0, prevRecall = 0, ap = 0;
    for (std::size_t k = 0; k < idx.size(); ++k) {
        (labels[idx[k]] ? tp : fp) += 1;
        if (k + 1 < idx.size() && scores[idx[k + 1]] == scores[idx[k]]) continue;  // ties form one threshold
        const double recall = tp / P, scaled = tp * N / P;
        const double nprec = scaled + fp > 0 ? scaled / (scaled + fp) : 0;
        ap += (recall - prevRecall) * nprec;
        prevRecall = recall;
    }
    return ap;
}

std::vector<double> groupAccuracies(const std::vector<int>& p, const std::vector<int>& t, const std::vector<int>& group, int groups) {
    if (p.size() != t.size() || group.size() != t.size()) throw InputError("groupAccuracies: vectors of different lengths");
    std::vector<double> hit(static_cast<std::size_t>(groups), 0), n(static_cast<std::size_t>(groups), 0);
    for (std::size_t i = 0; i < p.size(); ++i) {
        const auto g = static_cast<std::size_t>(group[i]);
        hit[g] += p[i] == t[i];
        n[g] += 1;
    }
    for (std::size_t g = 0; g < hit.size(); ++g) hit[g] = n[g] > 0 ? hit[g] / n[g] : kNaN;
    return hit;
}

WorstGroup worstGroup(const std::vector<std::vector<double>>& perModel, const std::vector<std::size_t>& sizes, double minFraction) {
    WorstGroup w;
    if (perModel.empty()) return w;
    const double total = static_cast<double>(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}));
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t g = 0; g < sizes.size(); ++g) {
        if (static_cast<double>(sizes[g]) < minFraction * total) continue;
        const MeanStd v = nanMeanStd(perModel.size(), [&](std::size_t k) { return perModel[k][g]; });
        if (v.n > 0 && v.mean < best) {
            best = v.mean;
            w = {static_cast<int>(g), v.mean, v.std};
        }
    }
    return w;
}

}  // namespace biasscope::attention
