// Per-neuron statistics beyond the published study (docs/statistics.md):
//  - bootstrap percentile and BCa intervals equal scipy.stats.bootstrap on the resamples scipy drew
//    (tests/data/neuron-stats-golden.json, tests/golden/make_neuron_stats_golden.py), one- and two-sample;
//  - per-neuron paired / independent tests equal scipy.stats.ttest_rel / ttest_ind column by column, BH equal
//    to statsmodels' fdr_bh over the family;
//  - the per-image unit is the published test on one mean per image; effect-size and consistency CIs
//    bracket their estimates and collapse where the data cannot vary.
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <cmath>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "TestRegistry.h"
#include "analysis/Bootstrap.h"
#include "analysis/LabelTTests.h"
#include "analysis/NeuronTests.h"
#include "common/Error.h"
#include "io/Csv.h"
#include "io/Safetensors.h"
#include "study/NeuronTestTable.h"

using namespace biasscope::analysis;
using biasscope::InputError;

namespace {

nlohmann::json golden() {
    std::ifstream in(biasscope::test::dataPath("neuron-stats-golden.json"));
    if (!in) throw std::runtime_error("cannot open tests/data/neuron-stats-golden.json (tests/golden/make_neuron_stats_golden.py)");
    return nlohmann::json::parse(in);
}

bool close(double a, double b, double rel = 1e-9) { return a == b || std::fabs(a - b) <= rel * std::max(std::fabs(b), 1e-300); }

double meanOf(const std::vector<double>& x, const std::vector<int>& idx) {
    double s = 0;
    for (int i : idx) s += x[static_cast<std::size_t>(i)];
    return s / static_cast<double>(idx.size());
}
double varOf(const std::vector<double>& x, const std::vector<int>& idx) {
    const double m = meanOf(x, idx);
    double s = 0;
    for (int i : idx) s += (x[static_cast<std::size_t>(i)] - m) * (x[static_cast<std::size_t>(i)] - m);
    return s / static_cast<double>(idx.size() - 1);
}

// [images][targets][layers][features] filled from a formula
std::vector<float> tensor(int images, int targets, int layers, int features, unsigned seed) {
    std::vector<float> v(static_cast<std::size_t>(images) * targets * layers * features);
    unsigned x = seed;
    for (auto& f : v) {
        x = x * 1664525u + 1013904223u;
        f = static_cast<float>((x >> 8) % 20001) / 10000.0f - 1.0f;
    }
    return v;
}

}  // namespace

class TestNeuronStats : public QObject {
    Q_OBJECT
private slots:
    void bootstrapEqualsScipy() {
        const auto g = golden();
        int cases = 0;
        for (const auto& c : g["bootstrap"]) {
            const std::string stat = c["statistic"];
            const auto samples = c["samples"].get<std::vector<std::vector<double>>>();
            const auto indices = c["indices"].get<std::vector<std::vector<std::vector<int>>>>();
            const double conf = c["confidence"];
            BootstrapCi ci;
            if (stat == "mean") {
                const auto& x = samples[0];
                ci = bootstrapCi(static_cast<int>(x.size()), [&](const std::vector<int>& i) { return std::vector<double>{meanOf(x, i)}; }, indices[0], conf)[0];
            } else if (stat == "d_avg") {  // paired: one resample of the pairs
                const auto &x = samples[0], &y = samples[1];
                ci = bootstrapCi(
                    static_cast<int>(x.size()),
                    [&](const std::vector<int>& i) { return std::vector<double>{(meanOf(x, i) - meanOf(y, i)) / std::sqrt((varOf(x, i) + varOf(y, i)) / 2)}; },
                    indices[0], conf)[0];
            } else {
                const auto &x = samples[0], &y = samples[1];
                auto s = [&](const std::vector<int>& a, const std::vector<int>& b) {
                    const double diff = meanOf(x, a) - meanOf(y, b);
                    if (stat == "mean_difference") return std::vector<double>{diff};
                    const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
                    return std::vector<double>{diff / std::sqrt(((na - 1) * varOf(x, a) + (nb - 1) * varOf(y, b)) / (na + nb - 2))};
                };
                ci = bootstrapCiTwoSample(static_cast<int>(x.size()), static_cast<int>(y.size()), s, indices[0], indices[1], conf)[0];
            }
            const QString where = QString::fromStdString(c["name"].get<std::string>());
            QVERIFY2(close(ci.estimate, c["estimate"]), qPrintable(where));
            QVERIFY2(close(ci.percentile.low, c["percentile"][0]) && close(ci.percentile.high, c["percentile"][1]),
                     qPrintable(where + QString(": percentile %1 %2").arg(ci.percentile.low, 0, 'g', 17).arg(ci.percentile.high, 0, 'g', 17)));
            if (c["BCa"][0].is_null()) {  // scipy: degenerate, NaN
                QVERIFY2(std::isnan(ci.bca.low) && std::isnan(ci.bca.high) && !ci.bcaInvalidReason.empty(), qPrintable(where));
            } else {
                QVERIFY2(close(ci.bca.low, c["BCa"][0]) && close(ci.bca.high, c["BCa"][1]),
                         qPrintable(where + QString(": BCa %1 %2").arg(ci.bca.low, 0, 'g', 17).arg(ci.bca.high, 0, 'g', 17)));
            }
            ++cases;
        }
        QCOMPARE(cases, 7);
    }

    void resamplesAreSeededAndPortable() {
        // SplitMix64's published first output for seed 0 is 0xe220a8397b1dcdaf; n = 2^k needs no rejection
        const auto a = bootstrapIndices(1 << 20, 1, 0);
        QCOMPARE(a[0][0], static_cast<int>(0xe220a8397b1dcdafULL % (1u << 20)));
        const auto b = bootstrapIndices(7, 50, 42), c = bootstrapIndices(7, 50, 42), d = bootstrapIndices(7, 50, 43);
        QVERIFY(b == c);
        QVERIFY(b != d);
        std::set<int> seen;
        for (const auto& row : b)
            for (int i : row) {
                QVERIFY(i >= 0 && i < 7);
                seen.insert(i);
            }
        QCOMPARE(static_cast<int>(seen.size()), 7);
        QVERIFY_THROWS_EXCEPTION(std::exception, bootstrapIndices(0, 10, 1));
        QVERIFY_THROWS_EXCEPTION(std::exception, bootstrapIndices(5, 0, 1));
    }

    void percentileIsNumpyLinear() {
        QCOMPARE(percentileLinear({3, 1, 2, 4}, 50), 2.5);
        QCOMPARE(percentileLinear({1, 2, 3, 4, 5}, 25), 2.0);
        QVERIFY(close(percentileLinear({10, 20}, 2.5), 10.25));
        QCOMPARE(percentileLinear({5}, 97.5), 5.0);
    }

    void neuronTestsEqualScipyColumnByColumn() {
        const auto g = golden();
        for (const auto& c : g["neuron_tests"]) {
            const auto x = c["x"].get<std::vector<std::vector<double>>>(), y = c["y"].get<std::vector<std::vector<double>>>();
            const int nx = static_cast<int>(x.size()), ny = static_cast<int>(y.size()), m = static_cast<int>(x[0].size());
            // as a [images][targets = 2][layers = 2][features = m / 2] tensor: neuron j = layer j / (m/2), feature j % (m/2)
            const int f = m / 2;
            auto fill = [&](const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>* b) {
                std::vector<float> v(static_cast<std::size_t>(a.size()) * 2 * 2 * f);
                for (std::size_t i = 0; i < a.size(); ++i)
                    for (int j = 0; j < m; ++j) {
                        v[((i * 2 + 0) * 2 + j / f) * f + j % f] = static_cast<float>(a[i][j]);
                        if (b) v[((i * 2 + 1) * 2 + j / f) * f + j % f] = static_cast<float>((*b)[i][j]);
                    }
                return v;
            };
            // the golden's values are float32-representable (relevance is stored as float32): the same inputs
            std::vector<NeuronTest> tests;
            std::vector<float> vx, vy;
            if (c["kind"] == "paired") {
                vx = fill(x, &y);
                std::vector<int> imgs(nx);
                for (int i = 0; i < nx; ++i) imgs[i] = i;
                tests = pairedNeuronTests({vx.data(), nx, 2, 2, f}, imgs, 0, 1);
            } else {
                vx = fill(x, nullptr);
                vy = fill(y, nullptr);
                std::vector<int> ix(nx), iy(ny);
                for (int i = 0; i < nx; ++i) ix[i] = i;
                for (int i = 0; i < ny; ++i) iy[i] = i;
                tests = independentNeuronTests({vx.data(), nx, 2, 2, f}, ix, 0, {vy.data(), ny, 2, 2, f}, iy, 0);
            }
            QCOMPARE(static_cast<int>(tests.size()), m);
            int significant = 0;
            for (int j = 0; j < m; ++j) {
                const auto& t = tests[static_cast<std::size_t>(j)];
                QCOMPARE(t.layer * f + t.neuron, j);
                const QString where = QString("%1 neuron %2").arg(QString::fromStdString(c["kind"].get<std::string>())).arg(j);
                if (c["p"][j].is_null()) {
                    QVERIFY2(std::isnan(t.result.p) && std::isnan(t.q) && !t.significant, qPrintable(where));
                    continue;
                }
                QVERIFY2(close(t.result.t, c["t"][j]), qPrintable(where + QString(" t %1").arg(t.result.t)));
                QVERIFY2(close(t.result.p, c["p"][j]), qPrintable(where + QString(" p %1").arg(t.result.p)));
                QVERIFY2(close(t.q, c["q"][j]), qPrintable(where + QString(" q %1").arg(t.q)));
                QCOMPARE(t.significant, c["q"][j].get<double>() <= 0.05);
                QCOMPARE(t.d > 0, t.result.meanX > t.result.meanY);
                significant += t.significant;
            }
            QVERIFY(significant > 0);  // the golden plants differences
        }
    }

    void perImageUnitIsOneMeanPerImage() {
        const int I = 6, T = 3, L = 2, F = 9, k = 3;
        const auto data = tensor(I, T, L, F, 11);
        const RelevanceTensorView v{data.data(), I, T, L, F};
        const std::vector<int> images{0, 1, 2, 3, 4, 5};
        const auto pooled = pairedLabelTests(v, images, 2, {0, 1}, {k, RankBy::Magnitude});
        const auto perImage = pairedLabelTests(v, images, 2, {0, 1}, {k, RankBy::Magnitude, TestUnit::ImageMean});
        QCOMPARE(pooled.size(), perImage.size());
        for (std::size_t i = 0; i < perImage.size(); ++i) {
            const int layer = perImage[i].layer;
            std::vector<double> x, y;
            for (int img : images) {
                const auto top = topKNeurons(v.vector(img, 2, layer), F, k);
                double sx = 0, sy = 0;
                for (int n : top) {
                    sx += v.vector(img, 0, layer)[n];
                    sy += v.vector(img, 1, layer)[n];
                }
                x.push_back(sx / k);
                y.push_back(sy / k);
            }
            const auto expect = pairedTTest(x, y);
            QCOMPARE(perImage[i].result.nX, static_cast<std::size_t>(I));
            QCOMPARE(pooled[i].result.nX, static_cast<std::size_t>(I * k));
            QVERIFY(close(perImage[i].result.t, expect.t, 1e-12));
            QVERIFY(close(perImage[i].result.p, expect.p, 1e-12));
        }
        QCOMPARE(QString(toString(TestUnit::PooledImageTopK)), QString("image x top-k, pooled (as published)"));
    }

    void effectIntervalsBracketTheirEstimate() {
        const int I = 12, T = 3, L = 2, F = 16, k = 4;
        const auto data = tensor(I, T, L, F, 5);
        const RelevanceTensorView v{data.data(), I, T, L, F};
        std::vector<int> a{0, 1, 2, 3, 4, 5}, b{6, 7, 8, 9, 10, 11}, all{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
        const BootstrapOptions o{2000, 9, 0.95};
        for (const auto unit : {TestUnit::PooledImageTopK, TestUnit::ImageMean}) {
            const auto paired = pairedLabelTests(v, all, 2, {0, 1}, {k, RankBy::Magnitude, unit, &o});
            const auto ind = independentLabelTests(v, a, 2, v, b, 2, {0, 1}, {k, RankBy::Magnitude, unit, &o});
            for (const auto* fam : {&paired, &ind})
                for (const auto& t : *fam) {
                    QCOMPARE(t.dCi.resamples, 2000);
                    QVERIFY2(close(t.dCi.estimate, t.d, 1e-9), qPrintable(QString("%1 vs %2").arg(t.dCi.estimate).arg(t.d)));
                    QVERIFY(std::fabs(t.d) == t.result.cohenD);
                    QVERIFY(t.dCi.percentile.low <= t.d && t.d <= t.dCi.percentile.high);
                    QVERIFY(t.dCi.bca.low < t.dCi.bca.high);
                }
            // the same seed gives the same interval
            const auto again = pairedLabelTests(v, all, 2, {0, 1}, {k, RankBy::Magnitude, unit, &o});
            QCOMPARE(again[0].dCi.bca.low, paired[0].dCi.bca.low);
        }
        // the fast path (resampled moment sums as one matrix product) equals the plain bootstrap of the statistic:
        // resample images, rebuild the test's samples (an image's k values together), take d
        {
            const auto fast = pairedLabelTests(v, all, 2, {0, 1}, {k, RankBy::Magnitude, TestUnit::PooledImageTopK, &o});
            const int layer = fast[0].layer;
            auto samples = [&](const std::vector<int>& idx, int target) {
                std::vector<double> x;
                for (int i : idx) {
                    const int img = all[static_cast<std::size_t>(i)];
                    for (int n : topKNeurons(v.vector(img, 2, layer), F, k)) x.push_back(v.vector(img, target, layer)[n]);
                }
                return x;
            };
            auto dOf = [&](const std::vector<double>& x, const std::vector<double>& y) {
                return (meanOf(x, [&] { std::vector<int> a(x.size()); for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<int>(i); return a; }()) -
                        meanOf(y, [&] { std::vector<int> a(y.size()); for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<int>(i); return a; }())) /
                       std::sqrt((sampleVariance(x) + sampleVariance(y)) / 2);
            };
            const auto plain = bootstrapCi(
                I, [&](const std::vector<int>& idx) { return std::vector<double>{dOf(samples(idx, 0), samples(idx, 1))}; }, o)[0];
            QVERIFY(close(fast[0].dCi.percentile.low, plain.percentile.low, 1e-9) && close(fast[0].dCi.percentile.high, plain.percentile.high, 1e-9));
            QVERIFY2(close(fast[0].dCi.bca.low, plain.bca.low, 1e-9) && close(fast[0].dCi.bca.high, plain.bca.high, 1e-9),
                     qPrintable(QString("%1 %2 vs %3 %4").arg(fast[0].dCi.bca.low).arg(fast[0].dCi.bca.high).arg(plain.bca.low).arg(plain.bca.high)));
        }
        {  // independent, one mean per image: each set resampled on its own
            const auto fast = independentLabelTests(v, a, 2, v, b, 2, {0, 1}, {k, RankBy::Magnitude, TestUnit::ImageMean, &o});
            const int layer = fast[1].layer;
            auto meansOf = [&](const std::vector<int>& imgs) {
                std::vector<double> m;
                for (int img : imgs) {
                    double s = 0;
                    for (int n : topKNeurons(v.vector(img, 2, layer), F, k)) s += v.vector(img, 1, layer)[n];
                    m.push_back(s / k);
                }
                return m;
            };
            const auto mx = meansOf(a), my = meansOf(b);
            const auto plain = bootstrapCiTwoSample(
                6, 6,
                [&](const std::vector<int>& i1, const std::vector<int>& i2) {
                    const double n1 = static_cast<double>(i1.size()), n2 = static_cast<double>(i2.size());
                    const double pooled = ((n1 - 1) * varOf(mx, i1) + (n2 - 1) * varOf(my, i2)) / (n1 + n2 - 2);
                    return std::vector<double>{(meanOf(mx, i1) - meanOf(my, i2)) / std::sqrt(pooled)};
                },
                o)[0];
            QVERIFY(close(fast[1].dCi.percentile.low, plain.percentile.low, 1e-9) && close(fast[1].dCi.percentile.high, plain.percentile.high, 1e-9));
            QVERIFY(close(fast[1].dCi.bca.low, plain.bca.low, 1e-9) && close(fast[1].dCi.bca.high, plain.bca.high, 1e-9));
        }
        // without options, no interval
        QCOMPARE(pairedLabelTests(v, all, 2, {0, 1}, {k, RankBy::Magnitude})[0].dCi.resamples, 0);
    }

    void csvAndTheNeuronTable() {
        using namespace biasscope;
        const std::string tricky = "a, \"b\"\nc";
        const std::string text = "x,y\n" + io::csvField(tricky) + ",2\r\nplain,3\n";
        const auto rows = io::parseCsv(text, "t.csv");
        QCOMPARE(rows.size(), std::size_t{3});
        QCOMPARE(rows[1][0], tricky);
        QCOMPARE(rows[2][1], std::string("3"));
        try {
            io::parseCsv("x,y\n1,2,3\n", "t.csv");
            QFAIL("a row with three fields under a two-field header was accepted");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("t.csv: line 2 has 3 fields") != std::string::npos, e.what());
        }
        QVERIFY_THROWS_EXCEPTION(InputError, io::parseCsv("x\n\"open\n", "t.csv"));
        // the writer's families read back exactly; the significant ones are listed in the CSV; damage is refused by name
        std::vector<NeuronTest> tests{{0, 0, pairedTTest({1, 2, 3.5}, {0, 1, 1}), 0, 0.01, true}, {0, 1, pairedTTest({1, 1, 1}, {1, 1, 1}), 0, NAN, false},
                                      {1, 0, pairedTTest({1, 2, 3}, {1, 2, 3.5}), 0, 0.4, false}, {1, 1, pairedTTest({3, 2, 3}, {1, 2, 1.5}), 0, 0.049, true}};
        tests[0].d = 1.5;
        QTemporaryDir dir;
        const std::string path = (dir.path() + "/neuron_tests.safetensors").toStdString(), csv = (dir.path() + "/sig.csv").toStdString();
        const auto fam = study::makeNeuronTestFamily("paired", "set, one", "final", "a vs b", tests);
        QCOMPARE(fam.layers, 2);
        QCOMPARE(fam.neurons, 2);
        study::writeNeuronTests(path, csv, {fam});
        const auto back = study::readNeuronTests(path);
        QCOMPARE(back.size(), std::size_t{1});
        QCOMPARE(back[0].key(), std::string("paired · set, one · final · a vs b"));
        QCOMPARE(back[0].p[0], tests[0].result.p);
        QCOMPARE(back[0].d[0], 1.5f);
        QVERIFY(std::isnan(back[0].p[1]) && !back[0].significant(1));
        QCOMPARE(back[0].q[3], 0.049);
        QCOMPARE(back[0].n1, 3);
        std::ifstream in(csv);
        const std::string sigText((std::istreambuf_iterator<char>(in)), {});
        const auto sig = io::parseCsv(sigText, csv);
        QCOMPARE(sig.size(), std::size_t{3});  // header + the two with q < 0.05
        QCOMPARE(sig[1][1], std::string("set, one"));
        QCOMPARE(sig[2][4], std::string("1"));  // layer 1, neuron 1
        QCOMPARE(sig[2][5], std::string("1"));
        const study::NeuronTestIndex index(back);
        QCOMPARE(index.ofNeuron("final", 1, 1).size(), std::size_t{1});
        QVERIFY(index.ofNeuron("intermediate", 1, 1).empty());
        QVERIFY(index.family("paired · set, one · final · a vs b"));
        // not a table of ours; a tensor missing
        biasscope::io::writeSafetensors(path, {{"f0.t", torch::zeros({2, 2})}}, {{"format", "something"}});
        QVERIFY_THROWS_EXCEPTION(InputError, study::readNeuronTests(path));
        biasscope::io::writeSafetensors(path, {{"f0.t", torch::zeros({2, 2})}},
                                        {{"format", "biasscope.neuron-tests.v1"},
                                         {"families", R"([{"family":"paired","group":"g","site":"s","comparison":"c","test":"paired","layers":2,"neurons":2,"n1":3,"n2":3}])"}});
        try {
            study::readNeuronTests(path);
            QFAIL("a table without its p tensor was read");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("missing tensor 'f0.dof'") != std::string::npos, e.what());
        }
        QVERIFY_THROWS_EXCEPTION(InputError, study::readNeuronTests(path + ".absent"));
    }

    void consistencyIntervals() {
        // every image has neuron 3 in its top-k at layer 0: 100 % in every resample; layer 1 varies
        std::vector<std::vector<std::vector<int>>> topK;
        for (int i = 0; i < 10; ++i) topK.push_back({{3, i % 4 + 4}, {i % 3, 10 + i}});
        const auto ci = neuronConsistencyCi(topK, {3000, 1, 0.95});
        const auto point = neuronConsistency(topK);
        QCOMPARE(ci.size(), std::size_t{2});
        QCOMPARE(ci[0].estimate, 100.0);
        QCOMPARE(ci[0].percentile.low, 100.0);
        QCOMPARE(ci[0].percentile.high, 100.0);
        QVERIFY(std::isnan(ci[0].bca.low) && !ci[0].bcaInvalidReason.empty());  // every jackknife value equal
        QCOMPARE(ci[1].estimate, point[1].percent);
        QVERIFY(ci[1].percentile.low <= point[1].percent && point[1].percent <= ci[1].percentile.high);
        QVERIFY(ci[1].percentile.low < ci[1].percentile.high);
        QVERIFY(ci[1].percentile.low >= 0 && ci[1].percentile.high <= 100);
    }
};

BIASSCOPE_REGISTER_TEST(TestNeuronStats)
#include "TestNeuronStats.moc"
