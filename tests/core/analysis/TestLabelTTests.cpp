// The paired and independent t-test families against hand-assembled samples, and joint BH.
#include <QtTest/QtTest>
#include <random>

#include "TestRegistry.h"
#include "analysis/LabelTTests.h"
#include "analysis/MultipleTesting.h"

using namespace biasscope::analysis;

namespace {
std::vector<float> randomTensor(int I, int T, int L, int F, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    std::vector<float> d(static_cast<std::size_t>(I * T * L * F));
    for (auto& v : d) v = nd(rng);
    return d;
}
}  // namespace

class TestLabelTTests : public QObject {
    Q_OBJECT
private slots:
    void pairedTestsUseEachImagesOwnGenderTopK() {
        const int I = 5, T = 4, L = 2, F = 8, gender = 3, k = 2;
        const auto d = randomTensor(I, T, L, F, 1);
        const RelevanceTensorView v{d.data(), I, T, L, F};
        const std::vector<int> images{0, 2, 4}, labels{0, 1, 2};
        const auto tests = pairedLabelTests(v, images, gender, labels, {k, RankBy::Magnitude});
        QCOMPARE(tests.size(), std::size_t(L * 3));  // 3 pairs x 2 layers
        for (const auto& t : tests) {
            std::vector<double> x, y;
            for (int img : images) {
                const auto top = topKNeurons(v.vector(img, gender, t.layer), F, k);
                for (int n : top) {
                    x.push_back(v.vector(img, t.label1, t.layer)[n]);
                    y.push_back(v.vector(img, t.label2, t.layer)[n]);
                }
            }
            const auto r = pairedTTest(x, y);
            QCOMPARE(t.result.nX, std::size_t(images.size() * k));
            QVERIFY(std::abs(t.result.t - r.t) < 1e-12 && std::abs(t.result.cohenD - r.cohenD) < 1e-12);
        }
    }

    void independentTestsPickStudentOrWelchBySampleSize() {
        const int T = 3, L = 2, F = 6, k = 3;
        const auto dm = randomTensor(4, T, L, F, 2), df = randomTensor(5, T, L, F, 3);
        const RelevanceTensorView male{dm.data(), 4, T, L, F}, female{df.data(), 5, T, L, F};
        const auto equal = independentLabelTests(male, {0, 1, 2}, 2, female, {1, 2, 4}, 2, {0, 1}, {k, RankBy::Magnitude});
        const auto unequal = independentLabelTests(male, {0, 1, 2, 3}, 2, female, {0, 1, 4}, 2, {0, 1}, {k, RankBy::Magnitude});
        QCOMPARE(equal.size(), std::size_t(2 * L));
        for (const auto& t : equal) QVERIFY(!t.result.welch && t.label2 == -1);
        for (const auto& t : unequal) QVERIFY(t.result.welch);
    }

    void fdrRunsJointlyOverFamilies() {
        const auto d = randomTensor(6, 4, 3, 10, 4);
        const RelevanceTensorView v{d.data(), 6, 4, 3, 10};
        auto a = pairedLabelTests(v, {0, 1, 2}, 3, {0, 1, 2});
        auto b = pairedLabelTests(v, {3, 4, 5}, 3, {0, 1, 2});
        applyJointFdr({&a, &b});
        std::vector<double> p;
        for (const auto& t : a) p.push_back(t.result.p);
        for (const auto& t : b) p.push_back(t.result.p);
        const auto fdr = benjaminiHochberg(p);
        for (std::size_t i = 0; i < a.size(); ++i) QVERIFY(std::abs(a[i].q - fdr.q[i]) < 1e-15);
        for (std::size_t i = 0; i < b.size(); ++i) QVERIFY(std::abs(b[i].q - fdr.q[a.size() + i]) < 1e-15);
    }
};

BIASSCOPE_REGISTER_TEST(TestLabelTTests)
#include "TestLabelTTests.moc"
