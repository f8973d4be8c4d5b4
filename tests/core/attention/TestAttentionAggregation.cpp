// Aggregation, evaluation metrics and the MCC-subsampling solver of the Attention-IoU study against
// hand-computed cases (reference-attention-iou.md sections 4.1-4.2, 5, 6, 7).
#include <QtTest/QtTest>
#include <cmath>
#include <limits>
#include <random>

#include "TestRegistry.h"
#include "attention/Aggregation.h"
#include "attention/Subsampling.h"
#include "common/Error.h"

using namespace biasscope;
using namespace biasscope::attention;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
bool near(double a, double b, double tol = 1e-12) { return std::abs(a - b) <= tol; }
}  // namespace

class TestAttentionAggregation : public QObject {
    Q_OBJECT
private slots:
    void groupingAndNanRules() {
        // images: (A, Male) = (1,1) (1,0) (0,1) (0,1) (0,0)
        const std::vector<int> g = celebGroup({1, 1, 0, 0, 0}, {1, 0, 1, 1, 0});
        QCOMPARE(g, (std::vector<int>{0, 1, 2, 2, 3}));
        const Matrix scores{{0.2, 1.0}, {0.4, kNaN}, {kNaN, 0.5}, {0.6, 0.7}, {0.8, 0.9}};
        // mask score: NaN counts as 0
        const Matrix mask = groupMeans(scores, g, 4, true);
        QCOMPARE(mask.size(), std::size_t{5});
        QVERIFY(near(mask[2][0], 0.3));                     // (0 + 0.6) / 2
        QVERIFY(near(mask[1][1], 0.0));                     // the NaN image alone
        QVERIFY(near(mask[4][0], (0.2 + 0.4 + 0.6 + 0.8) / 5));  // "all" weights every image equally
        // heatmap score: NaN skipped
        const Matrix heat = groupMeans(scores, g, 4, false);
        QVERIFY(near(heat[2][0], 0.6));
        QVERIFY(std::isnan(heat[1][1]));                    // nothing left in the group
        QVERIFY(near(heat[4][1], (1.0 + 0.5 + 0.7 + 0.9) / 4));
        // an empty group is NaN (e.g. Male vs Male TF / FT)
        const Matrix empty = groupMeans({{0.5}, {0.7}}, celebGroup({1, 0}, {1, 0}), 4, false);
        QVERIFY(std::isnan(empty[1][0]) && std::isnan(empty[2][0]));
        QCOMPARE(waterbirdsGroup({0, 1, 1, 0}, {0, 1, 0, 1}), (std::vector<int>{0, 0, 1, 1}));
    }

    void modelAggregationUsesPopulationStd() {
        std::vector<Matrix> models{{{0.5}, {kNaN}}, {{0.6}, {0.2}}, {{0.7}, {0.4}}};
        const auto a = aggregateModels(models);
        QVERIFY(near(a.mean[0][0], 0.6));
        QVERIFY(near(a.std[0][0], std::sqrt(0.02 / 3)));  // ddof 0: 0.0816..., not the sample std 0.1
        QVERIFY(near(a.mean[1][0], 0.3));                 // nanmean over the models that have a value
        QVERIFY(near(a.std[1][0], 0.1));
        QCOMPARE(a.models[1][0], 2);
        // published layouts
        const std::string csv = celebCsv(a);
        QCOMPARE(QString::fromStdString(csv), QString("0.60000000\n0.30000000\n0.08164966\n0.10000000\n"));
        ModelAggregate w;
        w.mean = {{0.1, 0.9}, {0.2, 0.8}, {0.15, 0.85}};  // rows same/diff/all; columns background, bird
        w.std = {{0.01, 0.02}, {0.03, 0.04}, {0.05, kNaN}};
        QCOMPARE(QString::fromStdString(waterbirdsCsv(w)),
                 QString("0.10000000,0.20000000,0.15000000,0.01000000,0.03000000,0.05000000\n"
                         "0.90000000,0.80000000,0.85000000,0.02000000,0.04000000,nan\n"));
    }

    void mccAndMetrics() {
        QVERIFY(near(mcc({1, 1, 1, 0}, {1, 0, 1, 1}), -1.0 / 3.0));  // sklearn's documented example
        QCOMPARE(mcc({1, 1, 1}, {1, 0, 1}), 0.0);                   // degenerate table: 0 as sklearn
        QVERIFY(near(mcc({1, 0, 1, 0}, {1, 0, 1, 0}), 1.0));
        const double x[4] = {40, 10, 20, 30};  // (0,0) (0,1) (1,0) (1,1)
        QVERIFY(near(mccFromCounts(x), (30.0 * 40 - 20 * 10) / std::sqrt(50.0 * 50 * 60 * 40)));
        // weighted accuracy with train-balanced weights
        const auto w = balancedSampleWeights({1, 0, 0, 0}, {1, 0, 0});  // n/(2 n_c): 2 and 2/3
        QVERIFY(near(w[0], 2.0) && near(w[1], 2.0 / 3.0));
        QVERIFY(near(weightedAccuracy({1, 1, 0}, {1, 0, 0}, w), (2.0 + 2.0 / 3.0) / (2.0 + 4.0 / 3.0)));
        // normalised AP: N = P is the usual AP; a larger N raises precision; ties form one threshold
        QVERIFY(near(normalizedAP({0.9, 0.8, 0.7, 0.6}, {1, 0, 1, 0}, 2), 0.5 + 0.5 * 2.0 / 3.0));
        QVERIFY(near(normalizedAP({0.9, 0.8, 0.7, 0.6}, {1, 0, 1, 0}, 4), 0.5 + 0.5 * 0.8));
        QVERIFY(near(normalizedAP({0.9, 0.9, 0.1, 0.1}, {1, 0, 1, 0}, 2), 0.5));
        QVERIFY(std::isnan(normalizedAP({0.1, 0.2}, {1, 1}, 2)));
        // worst group: group means over models, small groups dropped
        const auto acc = groupAccuracies({1, 0, 1, 1}, {1, 0, 0, 1}, {0, 1, 2, 2}, 4);
        QVERIFY(near(acc[0], 1) && near(acc[2], 0.5) && std::isnan(acc[3]));
        const auto wg = worstGroup({{0.9, 0.8, 0.1, 0.7}, {0.9, 0.6, 0.3, 0.7}}, {500, 400, 3, 97});
        QCOMPARE(wg.group, 1);  // group 2 (0.3 % of images) is dropped
        QVERIFY(near(wg.mean, 0.7) && near(wg.std, 0.1));
    }

    void subsamplingHitsTargets() {
        // a CelebA-like train table for (Blond_Hair, Male): blond hair mostly on women
        const Counts available{9000, 8500, 3000, 500};
        const double m0 = mccFromCounts(available.data());
        QVERIFY(m0 < -0.2);
        for (double target : {-0.1, -0.3, -0.45}) {
            const Counts x = solveSubgroups(target, available, available);
            QVERIFY2(std::abs(mccFromCounts(x.data()) - target) <= 0.01, qPrintable(QString("MCC %1 for target %2").arg(mccFromCounts(x.data())).arg(target)));
            for (int k = 0; k < 4; ++k) QVERIFY(x[k] >= 0 && x[k] <= available[k]);
            const Counts fixed = solveSubgroups(target, available, available, 15000.0);
            QVERIFY(std::abs(mccFromCounts(fixed.data()) - target) <= 0.01);
            QVERIFY(std::abs(fixed[0] + fixed[1] + fixed[2] + fixed[3] - 15000) <= 2);
        }
        // the target already met: nothing is removed (the objective is 0 at x = s)
        const Counts same = solveSubgroups(m0, available, available);
        for (int k = 0; k < 4; ++k) QVERIFY(std::abs(same[k] - available[k]) <= 1);
        // the smooth walk: 0.01 steps from the current MCC to the target, each reached
        const auto path = solveSubgroupsSmooth(-0.3, available);
        QVERIFY(!path.mccs.empty());
        QVERIFY(near(path.mccs.back(), -0.3));
        QVERIFY(std::abs(path.mccs.front() - m0) <= 0.0100001);
        for (std::size_t i = 0; i < path.steps.size(); ++i) QVERIFY(std::abs(mccFromCounts(path.steps[i].data()) - path.mccs[i]) <= 0.01);
        // the sweep plan: 41 targets, one set size that every target can be reached with
        const auto plan = planSweep(-0.3, available);
        QVERIFY(near(plan.lo, -0.5) && near(plan.hi, -0.1));
        QCOMPARE(plan.targets.size(), std::size_t{41});
        QVERIFY(plan.setSize > 1000 && plan.setSize <= 21000);
        for (double m : {plan.lo, -0.3, plan.hi}) {
            const Counts x = solveSubgroupsSmooth(m, available, plan.setSize).counts;
            QVERIFY(std::abs(mccFromCounts(x.data()) - m) <= 0.01);
            QVERIFY(std::abs(x[0] + x[1] + x[2] + x[3] - plan.setSize) <= 2);
        }
        // unreachable: a strongly positive MCC while keeping every image
        QVERIFY_EXCEPTION_THROWN(solveSubgroups(0.9, available, available, 21000.0), InputError);
        QVERIFY_EXCEPTION_THROWN(solveSubgroups(1.0, available, available), InputError);
    }

    void subsampleOnGeneratedLabels() {
        std::mt19937 rng(5);
        std::vector<int> a, m;
        for (int i = 0; i < 6000; ++i) {
            const int male = rng() % 100 < 42;
            const int blond = rng() % 100 < (male ? 3 : 25);
            a.push_back(blond);
            m.push_back(male);
        }
        Counts available{};
        for (std::size_t i = 0; i < a.size(); ++i) available[static_cast<std::size_t>(2 * a[i] + m[i])] += 1;
        QVERIFY(std::abs(mcc(a, m) - mccFromCounts(available.data())) < 1e-12);
        const Counts x = solveSubgroupsSmooth(-0.15, available).counts;
        const auto keep = chooseSubsample(a, m, x, 7);
        QCOMPARE(keep, chooseSubsample(a, m, x, 7));  // deterministic from the seed
        QVERIFY(std::is_sorted(keep.begin(), keep.end()) && std::adjacent_find(keep.begin(), keep.end()) == keep.end());
        std::vector<int> ka, km;
        for (std::size_t i : keep) ka.push_back(a[i]), km.push_back(m[i]);
        QVERIFY2(std::abs(mcc(ka, km) + 0.15) <= 0.01, qPrintable(QString::number(mcc(ka, km))));
        QCOMPARE(static_cast<double>(keep.size()), x[0] + x[1] + x[2] + x[3]);
    }
};

BIASSCOPE_REGISTER_TEST(TestAttentionAggregation)
#include "TestAttentionAggregation.moc"
