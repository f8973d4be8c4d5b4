#include "attention/Subsampling.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "attention/Aggregation.h"
#include "common/Error.h"

namespace biasscope::attention {

namespace {

using Vec = std::array<double, 4>;

// x = a sin^2(z): the box [0, a] is reached at finite z, so bounds that are active at the optimum
// (a subgroup kept whole) are met exactly
double squash(double z) {
    const double s = std::sin(z);
    return s * s;
}

struct Problem {
    double target;
    Counts s, a;
    std::optional<double> total;

    Counts x(const Vec& z) const {
        Counts out{};
        for (int k = 0; k < 4; ++k) out[k] = a[k] * squash(z[k]);
        return out;
    }
    double objective(const Counts& x) const {
        double f = 0;
        for (int k = 0; k < 4; ++k) f += (x[k] - s[k]) * (x[k] - s[k]) / (x[k] * x[k] + 1e-15);
        return f;
    }
    std::array<double, 2> constraints(const Counts& x) const {
        const double sum = x[0] + x[1] + x[2] + x[3];
        return {mccFromCounts(x.data()) - target, total ? (sum - *total) / *total : 0.0};
    }
};

// augmented Lagrangian in z (x = a sin^2 z: the box is built in), BFGS inner solver
Counts solve(const Problem& p) {
    Vec z{};
    for (int k = 0; k < 4; ++k) z[k] = 1.5;  // x0 = 0.995 available (published: x0 = available; sin^2 is flat there)
    std::array<double, 2> lambda{0, 0};
    double mu = 10;
    auto phi = [&](const Vec& zz) {
        const Counts x = p.x(zz);
        const auto g = p.constraints(x);
        return p.objective(x) + lambda[0] * g[0] + lambda[1] * g[1] + 0.5 * mu * (g[0] * g[0] + g[1] * g[1]);
    };
    auto grad = [&](const Vec& zz) {
        Vec gr{};
        for (int k = 0; k < 4; ++k) {
            if (p.a[k] <= 0) continue;
            Vec up = zz, dn = zz;
            up[k] += 1e-6;
            dn[k] -= 1e-6;
            gr[k] = (phi(up) - phi(dn)) / 2e-6;
        }
        return gr;
    };
    double prevViolation = 1e300;
    for (int outer = 0; outer < 60; ++outer) {
        // BFGS on phi
        double H[4][4] = {};
        for (int k = 0; k < 4; ++k) H[k][k] = 1;
        Vec g = grad(z);
        double f = phi(z);
        for (int it = 0; it < 400; ++it) {
            Vec d{};
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) d[i] -= H[i][j] * g[j];
            double slope = 0;
            for (int i = 0; i < 4; ++i) slope += d[i] * g[i];
            if (slope >= 0) {  // not a descent direction: reset to steepest descent
                for (int i = 0; i < 4; ++i)
                    for (int j = 0; j < 4; ++j) H[i][j] = i == j;
                for (int i = 0; i < 4; ++i) d[i] = -g[i];
                slope = 0;
                for (int i = 0; i < 4; ++i) slope += d[i] * g[i];
            }
            double step = 1, fn = 0;
            Vec zn{};
            for (int ls = 0; ls < 60; ++ls, step *= 0.5) {
                for (int i = 0; i < 4; ++i) zn[i] = z[i] + step * d[i];
                fn = phi(zn);
                if (fn <= f + 1e-4 * step * slope) break;
            }
            const Vec gn = grad(zn);
            Vec sv{}, yv{};
            double sy = 0, gnorm = 0;
            for (int i = 0; i < 4; ++i) {
                sv[i] = zn[i] - z[i];
                yv[i] = gn[i] - g[i];
                sy += sv[i] * yv[i];
                gnorm = std::max(gnorm, std::abs(gn[i]));
            }
            const double df = f - fn;
            z = zn;
            g = gn;
            f = fn;
            if (sy > 1e-14) {  // BFGS update of the inverse Hessian
                double Hy[4] = {}, yHy = 0;
                for (int i = 0; i < 4; ++i)
                    for (int j = 0; j < 4; ++j) Hy[i] += H[i][j] * yv[j];
                for (int i = 0; i < 4; ++i) yHy += yv[i] * Hy[i];
                for (int i = 0; i < 4; ++i)
                    for (int j = 0; j < 4; ++j) H[i][j] += ((sy + yHy) * sv[i] * sv[j]) / (sy * sy) - (Hy[i] * sv[j] + sv[i] * Hy[j]) / sy;
            }
            if (gnorm < 1e-10 || (df >= 0 && df < 1e-15)) break;
        }
        const auto c = p.constraints(p.x(z));
        const double violation = std::max(std::abs(c[0]), std::abs(c[1]));
        if (violation < 1e-9) break;
        lambda[0] += mu * c[0];
        lambda[1] += mu * c[1];
        if (violation > 0.25 * prevViolation) mu = std::min(mu * 10, 1e12);
        prevViolation = violation;
    }
    return p.x(z);
}

std::string countsString(const Counts& c) {
    std::string s = "(";
    for (int k = 0; k < 4; ++k) s += (k ? ", " : "") + std::to_string(static_cast<long long>(std::llround(c[k])));
    return s + ")";
}

double round3(double v) { return std::round(v * 1000) / 1000; }
double round2(double v) { return std::round(v * 100) / 100; }

}  // namespace

Counts solveSubgroups(double target, const Counts& starting, const Counts& available, std::optional<double> total) {
    if (!(target > -1 && target < 1)) throw InputError("subsampling: target MCC " + std::to_string(target) + " must lie in (-1, 1)");
    for (double v : available)
        if (!(v >= 0)) throw InputError("subsampling: subgroup counts must be non-negative");
    if (total && !(*total > 0 && *total <= available[0] + available[1] + available[2] + available[3]))
        throw InputError("subsampling: set size " + std::to_string(*total) + " is not between 1 and the available " +
                         std::to_string(available[0] + available[1] + available[2] + available[3]));
    const Counts x = solve({target, starting, available, total});
    Counts r{};
    for (int k = 0; k < 4; ++k) r[k] = std::rint(x[k]);
    const double got = mccFromCounts(r.data());
    const double sum = r[0] + r[1] + r[2] + r[3];
    if (std::abs(got - target) > 0.01 || (total && std::abs(sum - *total) > 2))
        throw InputError("subsampling: no subgroup counts within " + countsString(available) + " reach MCC " + std::to_string(target) +
                         (total ? " with " + std::to_string(static_cast<long long>(*total)) + " images" : std::string()) + " (best found " +
                         countsString(r) + ", MCC " + std::to_string(got) + ")");
    return r;
}

SmoothPath solveSubgroupsSmooth(double target, const Counts& available, std::optional<double> total) {
    SmoothPath path;
    const double ms = mccFromCounts(available.data());
    std::vector<double> list;
    if (std::abs(ms - target) < 1e-12) {  // published: IndexError; here the start is already the answer
        path.counts = available;
        return path;
    }
    auto arange = [](double start, double stop) {
        std::vector<double> v;
        const auto n = static_cast<long>(std::ceil((stop - start) / 0.01 - 1e-9));
        for (long i = 0; i < n; ++i) v.push_back(start + 0.01 * static_cast<double>(i));
        return v;
    };
    if (ms < target) {
        for (double v : arange(-target, -ms)) list.push_back(-round3(v));
    } else {
        for (double v : arange(target, ms)) list.push_back(round3(v));
    }
    if (!list.empty() && std::abs(list.front() - target) < 1e-12) std::reverse(list.begin(), list.end());
    Counts starting = available;
    for (double m : list) {
        starting = solveSubgroups(m, starting, available, total);
        path.mccs.push_back(m);
        path.steps.push_back(starting);
    }
    path.counts = starting;
    return path;
}

SweepPlan planSweep(double m0, const Counts& available) {
    SweepPlan p;
    p.lo = round2(std::max(m0 - 0.2, -0.99));
    p.hi = round2(std::min(m0 + 0.2, 0.99));
    for (int k = 0;; ++k) {
        const double m = round2(p.lo + 0.01 * k);
        if (m > p.hi + 1e-9) break;
        p.targets.push_back(m);
    }
    p.setSize = available[0] + available[1] + available[2] + available[3];
    for (double end : {p.lo, p.hi})
        for (const auto& x : solveSubgroupsSmooth(end, available).steps) p.setSize = std::min(p.setSize, x[0] + x[1] + x[2] + x[3]);
    return p;
}

std::vector<std::size_t> chooseSubsample(const std::vector<int>& a, const std::vector<int>& m, const Counts& x, std::uint64_t seed) {
    if (a.size() != m.size()) throw InputError("subsample: attribute and confounder label counts differ");
    std::array<std::vector<std::size_t>, 4> members;
    for (std::size_t i = 0; i < a.size(); ++i) members[static_cast<std::size_t>(2 * (a[i] != 0) + (m[i] != 0))].push_back(i);
    std::mt19937_64 rng(seed);
    std::vector<std::size_t> keep;
    for (int k = 0; k < 4; ++k) {
        auto& v = members[static_cast<std::size_t>(k)];
        const auto want = static_cast<std::size_t>(std::llround(x[k]));
        if (want > v.size())
            throw InputError("subsample: subgroup " + std::to_string(k) + " has " + std::to_string(v.size()) + " images, " + std::to_string(want) + " requested");
        for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
        keep.insert(keep.end(), v.begin(), v.begin() + static_cast<std::ptrdiff_t>(want));
    }
    std::sort(keep.begin(), keep.end());
    return keep;
}

}  // namespace biasscope::attention
