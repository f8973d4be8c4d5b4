#pragma once
// The modified backward rules of CP-LRP / AttnLRP in Gradient x Input form (reference-attnlrp.md
// sections 1-4; Achtibat et al. 2024, Arras et al. 2025). Every function maps a gradient at an op's
// output to the gradient at its input(s); relevance of a tensor t is t * g_t. All functions
// broadcast over a leading target dimension T (the seeds) against saved forward tensors of batch 1.
#include <ATen/core/Tensor.h>

namespace biasscope::explain {

// sign-aware stabiliser: x + eps * sgn0(x), sgn0(0) = +1 (fixes lxt's unsigned 1e-10, reference 10.3)
at::Tensor stabilize(const at::Tensor& x, double eps);

// Identity rule for an element-wise non-linearity y = f(x): g_x = f(x) / stab(x) * g_y, so that
// x * g_x == y * g_y element-wise (paper Eq. 9). Returns the ratio f(x)/stab(x).
at::Tensor identityRuleRatio(const at::Tensor& x, const at::Tensor& y, double eps);

// LayerNorm with the standard deviation held constant (lxt layer_norm_forward):
// g_x = C (gamma * invStd * g_y), C = I - 11^T/D. Conservative up to beta.
at::Tensor layerNormBackwardDetachedStd(const at::Tensor& gradOut, const at::Tensor& gamma, const at::Tensor& invStd);

// Softmax plain gradient (AttnLRP Prop. 3.1 in G x I form): g_z = s * (g_s - <s, g_s>).
at::Tensor softmaxBackward(const at::Tensor& softmaxOut, const at::Tensor& gradOut);

// Bilinear C = A B with the uniform rule (divide_gradient by 2): each factor receives half.
struct MatmulGrads {
    at::Tensor gradA, gradB;
};
MatmulGrads halvedMatmulBackward(const at::Tensor& a, const at::Tensor& b, const at::Tensor& gradOut);

// Generalised Gamma rule (zennit Gamma, lxt's G x I conversion, reference section 4) for an affine map
// y = x W^T + b. The forward-dependent parts are computed once per image; the backward is linear in
// the seed and so serves any number of targets at once.
struct GammaLinear {
    at::Tensor xPos, xNeg;          // [1, N, in]
    at::Tensor wPlus, wMinus;       // P(W), N(W): [out, in]
    at::Tensor maskPos, maskNeg;    // 1[y>0] / stab(z+), 1[y<0] / stab(z-): [1, N, out]
    at::Tensor y;                   // original output incl. bias [1, N, out]
    at::Tensor inputStab;           // stab_1e-10(x) [1, N, in]
};
GammaLinear prepareGammaLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double gamma);
at::Tensor gammaLinearBackward(const GammaLinear& g, const at::Tensor& gradOut);

}  // namespace biasscope::explain
