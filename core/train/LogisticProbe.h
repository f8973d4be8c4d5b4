#pragma once
// The linear probe as linear probes are fitted (scikit-learn's LogisticRegression with its defaults'
// solver): L2-regularised logistic regression on fixed features, full batch, by L-BFGS with a strong-Wolfe
// line search, to a gradient tolerance. The objective is scikit-learn's:
//     mean_i CE(x_i W^T + b, y_i) + ||W||^2 / (2 C n)      (the bias is not penalised)
// with the binomial parametrisation for two classes (one weight vector w, logit x.w + b) and the
// multinomial one (softmax over K rows) for more, so that the optimum is scikit-learn's optimum. It is
// strictly convex, so any solver that converges finds the same weights (tested against scikit-learn).
// Computed in float64.
#include <ATen/core/Tensor.h>

namespace biasscope::train {

struct ProbeFitOptions {
    double C = 1.0;       // inverse regularisation strength (scikit-learn's C; its default 1.0)
    double tol = 1e-4;    // stop when max |gradient of the objective| <= tol (scikit-learn's tol, L-BFGS pgtol)
    int maxIter = 1000;   // L-BFGS iterations at most (scikit-learn's default is 100)
};

struct ProbeFit {
    at::Tensor weight;  // [K, D] float32: a classifier head (two classes: rows -w/2, w/2)
    at::Tensor bias;    // [K] float32 (two classes: -b/2, b/2; more: centred to mean 0)
    int evaluations = 0;          // objective + gradient evaluations
    double maxAbsGradient = 0;    // at the solution
    double objective = 0;         // at the solution
    bool converged = false;       // maxAbsGradient <= tol
};

// x: [N, D] features (any float dtype, any device), y: [N] class indices in [0, classes). Throws InputError
// for bad shapes, labels out of range, non-finite features or options out of range.
ProbeFit fitLogisticProbe(const at::Tensor& x, const at::Tensor& y, int classes, const ProbeFitOptions& options = {});

}  // namespace biasscope::train
