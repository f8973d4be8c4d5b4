// Every case of shared/data/stats-golden.json (SciPy / statsmodels, pingouin conventions) agrees to
// 1e-9 relative on t, p, dof, |d|, SEM and BH q, with the same reject set; degenerate input gives NaN
// with a reason.
#include <QtTest/QtTest>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "TestRegistry.h"
#include "analysis/MultipleTesting.h"
#include "analysis/TTest.h"

using namespace biasscope::analysis;

namespace {
nlohmann::json golden() {
    std::ifstream in(biasscope::test::sharedPath("stats-golden.json"));
    if (!in) throw std::runtime_error("cannot open shared/data/stats-golden.json");
    return nlohmann::json::parse(in);
}
bool close(double a, double b, double rel = 1e-9) { return std::fabs(a - b) <= rel * std::max(std::fabs(b), 1e-300) || a == b; }
}  // namespace

class TestStatistics : public QObject {
    Q_OBJECT
private slots:
    void tTestsMatchScipyGoldens() {
        const auto g = golden();
        int n = 0;
        for (const auto& c : g["tests"]) {
            const auto x = c["x"].get<std::vector<double>>();
            const auto& e = c["expected"];
            const std::string kind = c["kind"];
            TTestResult r;
            if (kind == "paired") r = pairedTTest(x, c["y"].get<std::vector<double>>());
            else if (kind == "independent") r = independentTTest(x, c["y"].get<std::vector<double>>());
            else r = oneSampleTTest(x);
            const QString where = QString("%1 case %2").arg(QString::fromStdString(kind)).arg(n);
            QVERIFY2(r.valid(), qPrintable(where));
            QVERIFY2(close(r.t, e["t"].get<double>()), qPrintable(where + QString(" t %1 vs %2").arg(r.t, 0, 'g', 17).arg(e["t"].get<double>(), 0, 'g', 17)));
            QVERIFY2(close(r.p, e["p"].get<double>()), qPrintable(where + QString(" p %1 vs %2").arg(r.p, 0, 'g', 17).arg(e["p"].get<double>(), 0, 'g', 17)));
            if (e.contains("dof")) QVERIFY2(close(r.dof, e["dof"].get<double>()), qPrintable(where + " dof"));
            if (e.contains("cohen_d")) QVERIFY2(close(r.cohenD, std::fabs(e["cohen_d"].get<double>())), qPrintable(where + QString(" d %1 vs %2").arg(r.cohenD).arg(e["cohen_d"].get<double>())));
            if (e.contains("welch")) QCOMPARE(r.welch, e["welch"].get<bool>());
            if (e.contains("sem")) QVERIFY2(close(r.sem, e["sem"].get<double>()), qPrintable(where + " sem"));
            if (e.contains("mean")) QVERIFY2(close(r.meanX, e["mean"].get<double>()), qPrintable(where + " mean"));
            ++n;
        }
        QCOMPARE(n, 100);
    }

    void benjaminiHochbergMatchesStatsmodels() {
        const auto f = golden()["fdr"];
        const auto p = f["p"].get<std::vector<double>>();
        const auto q = f["q"].get<std::vector<double>>();
        const auto reject = f["reject"].get<std::vector<bool>>();
        const auto r = benjaminiHochberg(p, f["alpha"].get<double>());
        for (std::size_t i = 0; i < p.size(); ++i) {
            QVERIFY2(close(r.q[i], q[i]), qPrintable(QString("q[%1] %2 vs %3").arg(i).arg(r.q[i], 0, 'g', 17).arg(q[i], 0, 'g', 17)));
            QCOMPARE(bool(r.reject[i]), bool(reject[i]));
        }
    }

    void degenerateInputsGiveNaNWithAReason() {
        for (const auto& r : {pairedTTest({1.0}, {2.0}), pairedTTest({1, 2, 3}, {0, 1, 2}), pairedTTest({1, 2}, {1, 2, 3}),
                              independentTTest({1.0}, {1, 2}), independentTTest({1, 1, 1}, {2, 2, 2}), oneSampleTTest({3, 3, 3}),
                              oneSampleTTest({1, std::nan(""), 2})}) {
            QVERIFY(!r.valid());
            QVERIFY(!r.invalidReason.empty());
            QVERIFY(std::isnan(r.t) && std::isnan(r.p));
        }
        const auto fdr = benjaminiHochberg({0.01, std::nan(""), 0.04});
        QVERIFY(std::isnan(fdr.q[1]) && !fdr.reject[1]);
        QVERIFY(close(fdr.q[0], 0.02) && close(fdr.q[2], 0.04));  // family of 2 valid tests
    }
};

BIASSCOPE_REGISTER_TEST(TestStatistics)
#include "TestStatistics.moc"
