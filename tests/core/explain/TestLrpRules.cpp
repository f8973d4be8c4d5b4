// Per-operation identities of the LRP rules (reference-attnlrp.md section 8, P7).
#include <QtTest/QtTest>

#include <torch/autograd.h>
#include <torch/types.h>

#include "TestRegistry.h"
#include "explain/LrpRules.h"

using namespace biasscope;
using namespace biasscope::explain;

class TestLrpRules : public QObject {
    Q_OBJECT
private slots:
    void init() { torch::manual_seed(11); }

    void identityRuleGivesEqualRelevanceBeforeAndAfterGelu() {
        at::Tensor x = torch::randn({4, 7, 50}, torch::kFloat64) * 3;
        x.index_put_({0, 0, 0}, 0.0);
        x.index_put_({0, 0, 1}, -1e-10);  // lxt's unsigned epsilon gives -inf here
        const at::Tensor y = torch::gelu(x), gy = torch::randn_like(x);
        const at::Tensor gx = identityRuleRatio(x, y, 1e-10) * gy;
        QVERIFY(torch::isfinite(gx).all().item<bool>());
        BIASSCOPE_COMPARE_TENSORS(x * gx, y * gy, 1e-9, 1e-12);
    }

    void softmaxRuleIsAttnLrpProposition31() {
        const at::Tensor z = torch::randn({16, 10, 32}, torch::kFloat64), rs = torch::randn({16, 10, 32}, torch::kFloat64);
        const at::Tensor s = torch::softmax(z, -1);
        const at::Tensor rz = z * softmaxBackward(s, rs / s);  // G x I: g_s = R_s / s
        BIASSCOPE_COMPARE_TENSORS(rz, z * (rs - s * rs.sum(-1, true)), 1e-10, 1e-12);
        // and it is the plain softmax gradient
        const at::Tensor zz = z.clone().requires_grad_(true);
        const at::Tensor g = torch::randn_like(z);
        torch::softmax(zz, -1).backward(g);
        BIASSCOPE_COMPARE_TENSORS(softmaxBackward(s, g), zz.grad(), 1e-10, 1e-12);
    }

    void eachMatmulFactorGetsExactlyHalf() {
        const at::Tensor a = torch::randn({2, 10, 32}, torch::kFloat64), b = torch::randn({2, 32, 5}, torch::kFloat64);
        const at::Tensor c = torch::matmul(a, b), gc = torch::randn_like(c);
        const auto g = halvedMatmulBackward(a, b, gc);
        const double total = (c * gc).sum().item<double>();
        QVERIFY(std::abs((a * g.gradA).sum().item<double>() - 0.5 * total) < 1e-9 * std::abs(total) + 1e-12);
        QVERIFY(std::abs((b * g.gradB).sum().item<double>() - 0.5 * total) < 1e-9 * std::abs(total) + 1e-12);
        // explicit lxt form R_A[b,i,k] = sum_j A_ik B_kj R_ij / (2 C_ij) (Prop. 3.3, eps -> 0)
        const at::Tensor r = c * gc;
        const at::Tensor expected = a * torch::matmul(r / (2 * c), b.transpose(-1, -2));
        BIASSCOPE_COMPARE_TENSORS(a * g.gradA, expected, 1e-8, 1e-10);
    }

    void layerNormWithDetachedStdKeepsAllButBeta() {
        const at::Tensor x = torch::randn({3, 9, 24}, torch::kFloat64) * 2 + 1;
        const at::Tensor gamma = torch::randn({24}, torch::kFloat64), beta = torch::randn({24}, torch::kFloat64);
        const at::Tensor xc = x - x.mean(-1, true);
        const at::Tensor invStd = torch::rsqrt((xc * xc).mean(-1, true) + 1e-12);
        const at::Tensor y = xc * invStd * gamma + beta, gy = torch::randn_like(y);
        const at::Tensor gx = layerNormBackwardDetachedStd(gy, gamma, invStd);
        const double lhs = (x * gx).sum().item<double>(), rhs = ((y - beta) * gy).sum().item<double>();
        QVERIFY2(std::abs(lhs - rhs) < 1e-9 * std::abs(rhs), qPrintable(QString("%1 vs %2").arg(lhs).arg(rhs)));
        // equals autograd with the std detached
        const at::Tensor xx = x.clone().requires_grad_(true);
        const at::Tensor xxc = xx - xx.mean(-1, true);
        (xxc * torch::rsqrt((xxc * xxc).mean(-1, true) + 1e-12).detach() * gamma + beta).backward(gy);
        BIASSCOPE_COMPARE_TENSORS(gx, xx.grad(), 1e-10, 1e-12);
    }

    void gammaZeroIsLrp0AndGammaIsConservativeWithoutBias() {
        const at::Tensor x = torch::randn({1, 20, 16}, torch::kFloat64), w = torch::randn({12, 16}, torch::kFloat64) * 0.3;
        const at::Tensor zeroBias = torch::zeros({12}, torch::kFloat64);
        const at::Tensor gy = torch::randn({3, 20, 12}, torch::kFloat64);
        const at::Tensor plain = x * torch::matmul(gy, w);
        BIASSCOPE_COMPARE_TENSORS(x * gammaLinearBackward(prepareGammaLinear(x, w, zeroBias, 0.0), gy), plain, 1e-4, 1e-8);
        for (double g : {0.05, 0.25, 100.0}) {
            const auto pre = prepareGammaLinear(x, w, zeroBias, g);
            const at::Tensor rx = x * gammaLinearBackward(pre, gy);
            const at::Tensor ry = gy * pre.y;
            BIASSCOPE_COMPARE_TENSORS(rx.sum(std::vector<std::int64_t>{1, 2}), ry.sum(std::vector<std::int64_t>{1, 2}), 1e-4, 1e-8);
        }
        // a positive gamma moves relevance toward positive contributions: differs from LRP-0
        const at::Tensor rg = x * gammaLinearBackward(prepareGammaLinear(x, w, zeroBias, 1.0), gy);
        QVERIFY((rg - plain).abs().max().item<double>() > 1e-3);
    }
};

BIASSCOPE_REGISTER_TEST(TestLrpRules)
#include "TestLrpRules.moc"
