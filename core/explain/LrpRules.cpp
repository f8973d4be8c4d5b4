#include "explain/LrpRules.h"

#include <torch/types.h>

namespace biasscope::explain {

at::Tensor stabilize(const at::Tensor& x, double eps) {
    return x + torch::where(x >= 0, torch::full({}, eps, x.options()), torch::full({}, -eps, x.options()));
}

at::Tensor identityRuleRatio(const at::Tensor& x, const at::Tensor& y, double eps) { return y / stabilize(x, eps); }

at::Tensor layerNormBackwardDetachedStd(const at::Tensor& gradOut, const at::Tensor& gamma, const at::Tensor& invStd) {
    at::Tensor t = gradOut * gamma * invStd;
    return t - t.mean(-1, /*keepdim=*/true);
}

at::Tensor softmaxBackward(const at::Tensor& s, const at::Tensor& gradOut) {
    return s * (gradOut - (gradOut * s).sum(-1, /*keepdim=*/true));
}

MatmulGrads halvedMatmulBackward(const at::Tensor& a, const at::Tensor& b, const at::Tensor& gradOut) {
    return {torch::matmul(gradOut, b.transpose(-1, -2)) * 0.5, torch::matmul(a.transpose(-1, -2), gradOut) * 0.5};
}

GammaLinear prepareGammaLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double gamma) {
    GammaLinear g;
    g.xPos = x.clamp_min(0);
    g.xNeg = x.clamp_max(0);
    g.wPlus = weight + gamma * weight.clamp_min(0);
    g.wMinus = weight + gamma * weight.clamp_max(0);
    const at::Tensor bPlus = bias + gamma * bias.clamp_min(0);
    const at::Tensor bMinus = bias + gamma * bias.clamp_max(0);
    // z+ = f(x+; P(W), P(b)) + f(x-; N(W), 0);  z- = f(x+; N(W), N(b)) + f(x-; P(W), 0)   (zennit Gamma)
    const at::Tensor zPos = torch::matmul(g.xPos, g.wPlus.t()) + bPlus + torch::matmul(g.xNeg, g.wMinus.t());
    const at::Tensor zNeg = torch::matmul(g.xPos, g.wMinus.t()) + bMinus + torch::matmul(g.xNeg, g.wPlus.t());
    g.y = torch::matmul(x, weight.t()) + bias;
    g.maskPos = (g.y > 0).to(x.scalar_type()) / stabilize(zPos, 1e-6);
    g.maskNeg = (g.y < 0).to(x.scalar_type()) / stabilize(zNeg, 1e-6);
    g.inputStab = stabilize(x, 1e-10);
    return g;
}

at::Tensor gammaLinearBackward(const GammaLinear& g, const at::Tensor& gradOut) {
    const at::Tensor r = gradOut * g.y;  // R_y = g_y * y
    const at::Tensor sPos = r * g.maskPos, sNeg = r * g.maskNeg;
    const at::Tensor rx = g.xPos * (torch::matmul(sPos, g.wPlus) + torch::matmul(sNeg, g.wMinus)) +
                          g.xNeg * (torch::matmul(sPos, g.wMinus) + torch::matmul(sNeg, g.wPlus));
    return rx / g.inputStab;
}

}  // namespace biasscope::explain
