// Pixel flipping (explain/Faithfulness.h) on the tiny ViT (32 px, 8 px patches: 16 patches):
//  - the curve starts at the image's logit and ends at the logit of the all-removed image, for every order;
//  - with one patch per step and an occlusion map (each patch's own effect), the first MoRF step is the
//    largest single drop and the first LeRF step the smallest: the ranking and the removal agree;
//  - areas are trapezoids; ABPC = area(LeRF) - area(MoRF); the summary averages images, SEM with ddof 1;
//  - bad maps and options are refused by name.
#include <QtTest/QtTest>
#include <cmath>

#include <torch/types.h>
#include <torch/utils.h>

#include "TestRegistry.h"
#include "common/Error.h"
#include "explain/Faithfulness.h"
#include "explain/RelevanceEngine.h"
#include "model/VitWeights.h"

using namespace biasscope;

namespace {
model::VitModel tiny() { return model::loadVitModel(test::dataPath("tiny-vit"), std::nullopt, "tiny"); }
at::Tensor image() {
    torch::manual_seed(3);
    return torch::randn({1, 3, 32, 32});
}
double logitOf(const model::VitModel& m, const at::Tensor& x, int c) {
    torch::NoGradGuard ng;
    return explain::vitLogits(m, x)[0][0][c].item<double>();
}
}  // namespace

class TestFaithfulness : public QObject {
    Q_OBJECT
private slots:
    void curvesStartAtTheImageAndEndAtTheBaseline() {
        const auto m = tiny();
        const at::Tensor x = image();
        const int c = explain::predictedClass(m, 0, x);
        explain::FlipOptions o;
        o.steps = 5;
        const auto r = explain::pixelFlipping(m, 0, c, x, explain::allFaithfulnessMaps(), o);
        QCOMPARE(r.size(), explain::allFaithfulnessMaps().size());
        const double start = logitOf(m, x, c), end = logitOf(m, torch::zeros_like(x), c);
        for (const auto& f : r) {
            for (const auto* curve : {&f.morf, &f.lerf}) {
                QCOMPARE(curve->fraction.size(), std::size_t{6});
                QCOMPARE(curve->fraction.front(), 0.0);
                QCOMPARE(curve->fraction.back(), 1.0);
                QVERIFY(std::fabs(curve->logit.front() - start) < 1e-5);
                QVERIFY(std::fabs(curve->logit.back() - end) < 1e-5);
                double area = 0;
                for (std::size_t k = 1; k < curve->fraction.size(); ++k)
                    area += (curve->fraction[k] - curve->fraction[k - 1]) * (curve->logit[k] + curve->logit[k - 1]) / 2;
                QVERIFY(std::fabs(area - curve->area) < 1e-12);
            }
            QCOMPARE(f.abpc, f.lerf.area - f.morf.area);
        }
        // the same seed, the same random map
        QVERIFY(torch::equal(explain::faithfulnessMap(m, 0, c, x, explain::FaithfulnessMap::Random, o),
                             explain::faithfulnessMap(m, 0, c, x, explain::FaithfulnessMap::Random, o)));
    }

    void rankingAndRemovalAgreeOnAnOcclusionMap() {
        const auto m = tiny();
        const at::Tensor x = image();
        const int c = explain::predictedClass(m, 0, x), patch = 8, P = 16;
        const double base = logitOf(m, x, c);
        // each patch's own effect: the logit drop when it alone is removed, painted over the patch
        at::Tensor map = torch::zeros({32, 32});
        std::vector<double> single(P);
        for (int j = 0; j < P; ++j) {
            at::Tensor y = x.clone();
            y.narrow(2, (j / 4) * patch, patch).narrow(3, (j % 4) * patch, patch).zero_();
            single[static_cast<std::size_t>(j)] = logitOf(m, y, c);
            map.narrow(0, (j / 4) * patch, patch).narrow(1, (j % 4) * patch, patch).fill_((base - single[static_cast<std::size_t>(j)]) / (patch * patch));
        }
        const auto order = explain::rankPatches(map, patch);
        QCOMPARE(static_cast<int>(order.size()), P);
        explain::FlipOptions o;
        o.steps = P;  // one patch per step
        const auto morf = explain::flipCurve(m, 0, c, x, order, patch, o);
        auto reversed = order;
        std::reverse(reversed.begin(), reversed.end());
        const auto lerf = explain::flipCurve(m, 0, c, x, reversed, patch, o);
        const double lowest = *std::min_element(single.begin(), single.end()), highest = *std::max_element(single.begin(), single.end());
        QVERIFY2(std::fabs(morf.logit[1] - lowest) < 1e-5, qPrintable(QString("%1 vs %2").arg(morf.logit[1]).arg(lowest)));
        QVERIFY(std::fabs(lerf.logit[1] - highest) < 1e-5);
        // ties go to the lower index, most relevant first
        const auto flat = explain::rankPatches(torch::ones({16, 16}), 8);
        QCOMPARE(flat, (std::vector<int>{0, 1, 2, 3}));
    }

    void summaryAveragesImages() {
        auto result = [](double morf, double lerf) {
            explain::FlipResult r{explain::FaithfulnessMap::Random, {{0, 1}, {morf, morf}, morf}, {{0, 1}, {lerf, lerf}, lerf}, lerf - morf};
            return std::vector<explain::FlipResult>{r};
        };
        const auto s = explain::summarizeFaithfulness({result(1, 2), result(1, 4), result(2, 1)});
        QCOMPARE(s.size(), std::size_t{1});
        QCOMPARE(s[0].images, 3);
        QCOMPARE(s[0].abpc, (1.0 + 3.0 - 1.0) / 3);
        const double mean = 1.0, var = ((1 - mean) * (1 - mean) + (3 - mean) * (3 - mean) + (-1 - mean) * (-1 - mean)) / 2;
        QVERIFY(std::fabs(s[0].abpcSem - std::sqrt(var / 3)) < 1e-12);
        QCOMPARE(s[0].positive, 2);
        QCOMPARE(s[0].morf[0], 4.0 / 3);
    }

    void badInputIsRefusedByName() {
        const auto m = tiny();
        const at::Tensor x = image();
        QVERIFY_THROWS_EXCEPTION(InputError, explain::parseFaithfulnessMap("lime"));
        QVERIFY_THROWS_EXCEPTION(InputError, explain::rankPatches(torch::zeros({30, 32}), 8));
        QVERIFY_THROWS_EXCEPTION(InputError, explain::rankPatches(torch::full({32, 32}, NAN), 8));
        explain::FlipOptions o;
        o.steps = 0;
        QVERIFY_THROWS_EXCEPTION(InputError, explain::flipCurve(m, 0, 0, x, std::vector<int>(16), 8, o));
        o.steps = 4;
        QVERIFY_THROWS_EXCEPTION(InputError, explain::flipCurve(m, 0, 0, x, std::vector<int>(15), 8, o));
        QVERIFY_THROWS_EXCEPTION(InputError, explain::flipCurve(m, 5, 0, x, std::vector<int>(16), 8, o));
    }
};

BIASSCOPE_REGISTER_TEST(TestFaithfulness)
#include "TestFaithfulness.moc"
