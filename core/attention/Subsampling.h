#pragma once
// The MCC-subsampling experiment (reference-attention-iou.md section 6): choose how many training
// images to keep from each (A, Male) subgroup so that the kept set has a target MCC between A and
// Male, changing the subgroup counts as little as possible.
// Counts are in the study's order x = (A,M) = (0,0), (0,1), (1,0), (1,1).
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace biasscope::attention {

using Counts = std::array<double, 4>;

// minimise sum_k (x_k - s_k)^2 / (x_k^2 + 1e-15) subject to 0 <= x <= available, mcc(x) = target and,
// if given, sum x = total; returns rint(x). (Published: scipy trust-constr from x0 = available. Here:
// augmented Lagrangian with a quasi-Newton inner solver in the box-free parametrisation x = available sin^2 z; the result is
// checked, and an unreachable target throws InputError with the reachable range.)
Counts solveSubgroups(double target, const Counts& starting, const Counts& available, std::optional<double> total = std::nullopt);

// Walks from the MCC of `available` to `target` in 0.01 steps, each step starting from the previous
// solution (get_subgroups_smooth). Returns the final counts, the MCC of every step and every
// intermediate solution.
struct SmoothPath {
    Counts counts{};
    std::vector<double> mccs;
    std::vector<Counts> steps;
};
SmoothPath solveSubgroupsSmooth(double target, const Counts& available, std::optional<double> total = std::nullopt);

// run_subgroups.py: lo = round(max(m0 - 0.2, -0.99), 2), hi = round(min(m0 + 0.2, 0.99), 2); the
// sweep is lo..hi in 0.01 steps (41 values); the fixed set size is the smallest total over every
// intermediate solution of the walks to lo and to hi.
struct SweepPlan {
    double lo = 0, hi = 0;
    std::vector<double> targets;
    double setSize = 0;
};
SweepPlan planSweep(double m0, const Counts& available);

// Which training images to keep: per subgroup a seeded random permutation of its members, first
// x[k] kept (regroup_splits; published with numpy's global RNG, here std::mt19937_64(seed) -- a
// labelled deviation: the chosen images differ, the counts do not).
std::vector<std::size_t> chooseSubsample(const std::vector<int>& attribute, const std::vector<int>& confounder, const Counts& x, std::uint64_t seed);

}  // namespace biasscope::attention
