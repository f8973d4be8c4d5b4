#pragma once
// Benjamini-Hochberg false discovery rate (statsmodels multipletests 'fdr_bh').
#include <vector>

namespace biasscope::analysis {

struct FdrResult {
    std::vector<double> q;     // adjusted p-values (NaN where p was NaN)
    std::vector<bool> reject;  // q <= alpha
};

// NaN p-values (invalid tests) are left out of the family and get q = NaN, reject = false.
FdrResult benjaminiHochberg(const std::vector<double>& p, double alpha = 0.05);

}  // namespace biasscope::analysis
