// Pooled z-scored cosine similarity and its aggregation, against an explicit Eigen computation.
#include <QtTest/QtTest>
#include <random>

#include <Eigen/Dense>

#include "TestRegistry.h"
#include "analysis/MultipleTesting.h"
#include "analysis/RelevanceSimilarity.h"
#include "analysis/TTest.h"
#include "common/Error.h"

using namespace biasscope::analysis;

class TestRelevanceSimilarity : public QObject {
    Q_OBJECT
private slots:
    void cosineAfterPooledZScoringMatchesExplicitComputation() {
        const int I = 4, T = 3, L = 2, F = 5, ref = 2;
        std::mt19937 rng(3);
        std::normal_distribution<float> nd;
        std::vector<float> data(static_cast<std::size_t>(I * T * L * F));
        for (auto& v : data) v = nd(rng);
        for (int r = 0; r < I * T * L; ++r) data[static_cast<std::size_t>(r * F + 4)] = 0.5f;  // constant feature: std 0 -> floor 1e-4
        const RelevanceTensorView view{data.data(), I, T, L, F};
        const auto cos = pooledCosineToReference(view, ref);

        Eigen::MatrixXd pool(I * T * L, F);
        for (int r = 0; r < I * T * L; ++r)
            for (int f = 0; f < F; ++f) pool(r, f) = data[static_cast<std::size_t>(r * F + f)];
        const Eigen::RowVectorXd mu = pool.colwise().mean();
        Eigen::RowVectorXd sd = ((pool.rowwise() - mu).array().square().colwise().sum() / pool.rows()).sqrt();
        for (int f = 0; f < F; ++f)
            if (sd(f) == 0) sd(f) = 1e-4;
        const Eigen::MatrixXd z = (pool.rowwise() - mu).array().rowwise() / sd.array();
        for (int i = 0; i < I; ++i)
            for (int t = 0; t < T; ++t)
                for (int l = 0; l < L; ++l) {
                    const Eigen::VectorXd a = z.row((i * T + t) * L + l), b = z.row((i * T + ref) * L + l);
                    const double expected = a.dot(b) / (a.norm() * b.norm());
                    QVERIFY(std::abs(cos[static_cast<std::size_t>((i * T + t) * L + l)] - expected) < 1e-12);
                }
        QVERIFY(std::abs(cos[static_cast<std::size_t>((0 * T + ref) * L + 0)] - 1.0) < 1e-12);
    }

    void aggregationIsOneSampleTTestWithBhOverCells() {
        const int I = 6, T = 3, L = 2, ref = 0;
        std::vector<double> cos(static_cast<std::size_t>(I * T * L));
        for (std::size_t k = 0; k < cos.size(); ++k) cos[k] = 0.1 * std::sin(1.7 * k) + (k % 3 == 1 ? 0.6 : 0.0);
        const std::vector<int> images{0, 2, 3, 5};
        const std::vector<bool> passing{true, true, false, true};
        const auto cells = aggregateSimilarity(cos, T, L, ref, images, passing);
        QCOMPARE(cells.size(), std::size_t((T - 1) * L));
        std::vector<double> p;
        for (const auto& c : cells) {
            std::vector<double> x;
            for (int i : {0, 2, 5}) x.push_back(cos[static_cast<std::size_t>((i * T + c.target) * L + c.layer)]);
            const auto r = oneSampleTTest(x);
            QCOMPARE(c.n, 3);
            QVERIFY(std::abs(c.t - r.t) < 1e-12 && std::abs(c.sem - r.sem) < 1e-12 && std::abs(c.mean - r.meanX) < 1e-12);
            p.push_back(r.p);
        }
        const auto fdr = benjaminiHochberg(p);
        for (std::size_t k = 0; k < cells.size(); ++k) {
            QVERIFY(std::abs(cells[k].q - fdr.q[k]) < 1e-15);
            QCOMPARE(cells[k].significant, bool(fdr.reject[k]) && fdr.q[k] < 0.05);
        }
    }

    void emptyAndBadPoolsAreRejected() {
        QVERIFY_EXCEPTION_THROWN(pooledCosineToReference(RelevanceTensorView{}, 0), biasscope::InputError);
        std::vector<float> d(12, std::nanf(""));
        QVERIFY_EXCEPTION_THROWN(pooledCosineToReference(RelevanceTensorView{d.data(), 1, 2, 2, 3}, 0), biasscope::InputError);
        std::vector<double> cos(8, 0.5);
        const auto cells = aggregateSimilarity(cos, 2, 2, 0, {0, 1}, {true, false});  // one passing image: n < 2
        for (const auto& c : cells) QVERIFY(!c.invalidReason.empty() && !c.significant);
    }
};

BIASSCOPE_REGISTER_TEST(TestRelevanceSimilarity)
#include "TestRelevanceSimilarity.moc"
