#include "train/LogisticProbe.h"

#include <cmath>
#include <string>

#include <torch/optim/lbfgs.h>
#include <torch/types.h>

#include "common/Error.h"

namespace biasscope::train {

ProbeFit fitLogisticProbe(const at::Tensor& x0, const at::Tensor& y0, int classes, const ProbeFitOptions& o) {
    if (x0.dim() != 2 || y0.dim() != 1 || x0.size(0) != y0.size(0) || x0.size(0) == 0)
        throw InputError("linear probe: features " + c10::str(x0.sizes()) + " and labels " + c10::str(y0.sizes()) + " do not match ([N, D] and [N], N > 0)");
    if (classes < 2) throw InputError("linear probe: needs at least two classes");
    if (!(std::isfinite(o.C) && o.C > 0)) throw InputError("linear probe: C = " + std::to_string(o.C) + " must be a positive number");
    if (!(std::isfinite(o.tol) && o.tol > 0)) throw InputError("linear probe: tolerance " + std::to_string(o.tol) + " must be a positive number");
    if (o.maxIter < 1) throw InputError("linear probe: at least one iteration");
    at::NoGradGuard outer;
    const at::Tensor x = x0.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    const at::Tensor y = y0.detach().to(torch::kCPU, torch::kInt64).contiguous();
    if (!torch::isfinite(x).all().item<bool>()) throw InputError("linear probe: the features hold NaN or Inf values");
    if (y.min().item<std::int64_t>() < 0 || y.max().item<std::int64_t>() >= classes)
        throw InputError("linear probe: labels must lie in 0.." + std::to_string(classes - 1));
    const std::int64_t n = x.size(0), D = x.size(1);
    const bool binary = classes == 2;
    const std::int64_t rows = binary ? 1 : classes;
    const double l2 = 1.0 / (o.C * static_cast<double>(n));
    at::Tensor W = torch::zeros({rows, D}, torch::kFloat64).requires_grad_(true);
    at::Tensor b = torch::zeros({rows}, torch::kFloat64).requires_grad_(true);
    const at::Tensor yf = y.to(torch::kFloat64);

    auto objective = [&]() {
        const at::Tensor z = torch::matmul(x, W.t()) + b;  // [n, rows]
        const at::Tensor data = binary ? torch::binary_cross_entropy_with_logits(z.squeeze(1), yf) : torch::nll_loss(torch::log_softmax(z, 1), y);
        return data + 0.5 * l2 * W.pow(2).sum();
    };
    torch::optim::LBFGS solver({W, b}, torch::optim::LBFGSOptions(1.0)
                                           .max_iter(o.maxIter)
                                           .max_eval(o.maxIter * 5 / 4 + 10)
                                           .tolerance_grad(o.tol)
                                           .tolerance_change(1e-16)
                                           .history_size(10)
                                           .line_search_fn("strong_wolfe"));
    ProbeFit fit;
    {
        at::AutoGradMode enable(true);
        solver.step([&]() -> at::Tensor {
            ++fit.evaluations;
            solver.zero_grad();
            at::Tensor loss = objective();
            loss.backward();
            return loss;
        });
        solver.zero_grad();
        const at::Tensor loss = objective();
        loss.backward();
        fit.objective = loss.item<double>();
        fit.maxAbsGradient = std::max(W.grad().abs().max().item<double>(), b.grad().abs().max().item<double>());
    }
    fit.converged = fit.maxAbsGradient <= o.tol;
    const at::Tensor w = W.detach(), c = b.detach();
    if (binary) {
        fit.weight = torch::cat({-0.5 * w, 0.5 * w}).to(torch::kFloat32);
        fit.bias = torch::cat({-0.5 * c, 0.5 * c}).to(torch::kFloat32);
    } else {
        fit.weight = w.to(torch::kFloat32);
        fit.bias = (c - c.mean()).to(torch::kFloat32);
    }
    if (!torch::isfinite(fit.weight).all().item<bool>()) throw Error("linear probe: the fit diverged (non-finite weights)");
    return fit;
}

}  // namespace biasscope::train
