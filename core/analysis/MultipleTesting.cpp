#include "analysis/MultipleTesting.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace biasscope::analysis {

FdrResult benjaminiHochberg(const std::vector<double>& p, double alpha) {
    FdrResult r;
    r.q.assign(p.size(), std::numeric_limits<double>::quiet_NaN());
    r.reject.assign(p.size(), false);
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < p.size(); ++i)
        if (std::isfinite(p[i])) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
    const double m = static_cast<double>(order.size());
    double running = 1.0;
    for (std::size_t k = order.size(); k-- > 0;) {  // step-up: cumulative minimum from the largest p
        const std::size_t i = order[k];
        running = std::min(running, p[i] * m / static_cast<double>(k + 1));
        r.q[i] = running;
        r.reject[i] = running <= alpha;
    }
    return r;
}

}  // namespace biasscope::analysis
