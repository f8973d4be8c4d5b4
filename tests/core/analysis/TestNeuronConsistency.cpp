// Consistency recomputed from the published rankings (shared/data/reference-study) equals the
// published curves; the expected values below were read off masked_/unmasked_consistency_plot.png
// and are exact fractions of the passing images (30 male, 36 female, 25 masked male, 37 masked female).
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "TestRegistry.h"
#include "analysis/NeuronConsistency.h"
#include "common/Error.h"
#include "study/PublishedImport.h"
#include "study/PublishedRun.h"
#include "study/StudyAnalysis.h"
#include "study/StudyRunner.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {
// read off the published figures (percent, one decimal)
const std::map<std::string, std::vector<double>>& publishedCurves() {
    static const std::map<std::string, std::vector<double>> curves{
        {"male/final", {40.0, 76.7, 46.7, 40.0, 53.3, 73.3, 70.0, 80.0, 50.0, 80.0, 100.0, 100.0}},
        {"male/intermediate", {50.0, 23.3, 36.7, 73.3, 36.7, 76.7, 60.0, 93.3, 90.0, 80.0, 83.3, 100.0}},
        {"female/final", {61.1, 38.9, 52.8, 50.0, 47.2, 41.7, 63.9, 77.8, 91.7, 86.1, 100.0, 100.0}},
        {"female/intermediate", {50.0, 47.2, 33.3, 66.7, 55.6, 91.7, 100.0, 83.3, 100.0, 69.4, 100.0, 100.0}},
        {"masked_male/final", {68.0, 36.0, 48.0, 56.0, 56.0, 56.0, 72.0, 64.0, 52.0, 88.0, 100.0, 100.0}},
        {"masked_male/intermediate", {40.0, 52.0, 36.0, 64.0, 48.0, 52.0, 52.0, 96.0, 92.0, 88.0, 100.0, 100.0}},
        {"masked_female/final", {56.8, 35.1, 45.9, 45.9, 45.9, 45.9, 73.0, 73.0, 86.5, 81.1, 100.0, 100.0}},
        {"masked_female/intermediate", {48.6, 32.4, 32.4, 59.5, 35.1, 70.3, 100.0, 94.6, 100.0, 78.4, 100.0, 100.0}},
    };
    return curves;
}
const std::map<std::string, int>& publishedPassing() {
    static const std::map<std::string, int> passing{{"male", 30}, {"female", 36}, {"masked_male", 25}, {"masked_female", 37}};
    return passing;
}
}  // namespace


class TestNeuronConsistency : public QObject {
    Q_OBJECT
private slots:
    void topKIsByMagnitudeWithStableTies() {
        const float v[] = {0.1f, -0.9f, 0.5f, 0.9f, -0.2f};
        QCOMPARE(analysis::topKNeurons(v, 5, 3), (std::vector<int>{1, 3, 2}));
        QCOMPARE(analysis::topKNeurons(v, 5, 2, analysis::RankBy::Signed), (std::vector<int>{3, 2}));
        QCOMPARE(analysis::topKNeurons(v, 5, 9).size(), std::size_t(5));
    }

    void handComputedConsistency() {
        // 3 images, 2 layers: neuron 7 in all three at layer 0; at layer 1 two images share 4
        const auto c = analysis::neuronConsistency({{{7, 1}, {4, 2}}, {{7, 2}, {4, 9}}, {{3, 7}, {5, 8}}});
        QCOMPARE(c[0].neuron, 7);
        QCOMPARE(c[0].percent, 100.0);
        QCOMPARE(c[1].neuron, 4);
        QCOMPARE(c[1].count, 2);
        QVERIFY(std::abs(c[1].percent - 200.0 / 3) < 1e-12);
        QVERIFY_EXCEPTION_THROWN(analysis::neuronConsistency({}), InputError);
    }

    void publishedCurvesAreReproduced() {
        const auto sets = study::readPublishedRelevance(test::sharedPath("reference-study/vit_relevance"));
        const auto& expected = publishedCurves();
        const auto& passing = publishedPassing();
        QCOMPARE(sets.size(), std::size_t(4));
        for (const auto& set : sets) {
            for (const std::string site : {"final", "intermediate"}) {
                const auto topK = study::passingTopK(set, site, 0.9);
                QCOMPARE(static_cast<int>(topK.size()), passing.at(set.name));
                const auto c = analysis::neuronConsistency(topK);
                const auto& e = expected.at(set.name + "/" + site);
                QCOMPARE(c.size(), e.size());
                for (std::size_t l = 0; l < e.size(); ++l)
                    QVERIFY2(std::abs(c[l].percent - e[l]) < 0.051,
                             qPrintable(QString("%1/%2 layer %3: %4 vs published %5").arg(set.name.c_str(), site.c_str()).arg(l).arg(c[l].percent).arg(e[l])));
            }
        }
    }

    void importedStoreReproducesPublishedCurves() {
        // `study import-published` then `study analyze`: the published curves, from the store path
        QTemporaryDir tmp;
        const fs::path store = fs::path(tmp.path().toStdString()) / "imported";
        const auto rep = study::importPublished(test::sharedPath("reference-study/vit_relevance"), store.string());
        QCOMPARE(rep.sets, 4);
        QCOMPARE(rep.images, 160);
        const auto an = study::analyzeStudy(store.string(), (store / "analysis").string(), {});
        QCOMPARE(an.threshold, 0.9);
        for (const auto& [set, n] : publishedPassing()) QCOMPARE(an.passingImages.at(set), n);
        QVERIFY(!an.warnings.empty());  // says why there are no similarity / t-test tables
        std::ifstream in(store / "analysis/consistency.csv");
        std::string line;
        std::getline(in, line);
        QCOMPARE(line, std::string("set,site,layer,consistency_percent,neuron,count,images,ci_percentile_low,ci_percentile_high,ci_bca_low,ci_bca_high"));
        int rows = 0;
        while (std::getline(in, line)) {
            std::stringstream ss(line);
            std::string set, site, layer, percent;
            std::getline(ss, set, ',');
            std::getline(ss, site, ',');
            std::getline(ss, layer, ',');
            std::getline(ss, percent, ',');
            const double e = publishedCurves().at(set + "/" + site).at(std::stoul(layer));
            QVERIFY2(std::abs(std::stod(percent) - e) < 0.051, line.c_str());
            std::string neuron, count, images, lo, hi;  // the bootstrap interval (default 10,000 resamples) brackets the curve
            std::getline(ss, neuron, ',');
            std::getline(ss, count, ',');
            std::getline(ss, images, ',');
            std::getline(ss, lo, ',');
            std::getline(ss, hi, ',');
            QVERIFY2(std::stod(lo) <= std::stod(percent) + 1e-9 && std::stod(percent) <= std::stod(hi) + 1e-9 && (std::stod(lo) < std::stod(hi) || std::stod(percent) == 100), line.c_str());
            QVERIFY2(std::abs(an.consistency.at(set).at(site).at(std::stoul(layer)) - std::stod(percent)) < 1e-12, line.c_str());
            ++rows;
        }
        QCOMPARE(rows, 4 * 2 * 12);
        // what an imported store cannot give is refused with the reason
        study::AnalysisOptions more;
        more.topK = 10;
        try {
            study::analyzeStudy(store.string(), (store / "a10").string(), more);
            QFAIL("top-10 from top-5 lists");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("stored 5 neurons") != std::string::npos, e.what());
        }
        study::AnalysisOptions signedRank;
        signedRank.rankBy = analysis::RankBy::Signed;
        QVERIFY_EXCEPTION_THROWN(study::analyzeStudy(store.string(), (store / "as").string(), signedRank), InputError);
        QVERIFY_EXCEPTION_THROWN(study::runStudy(study::readStudyDefinition((store / "study.json").string()), {(store / "x").string()}), InputError);
    }

    void malformedPublishedFilesAreNamed() {
        try {
            study::readPublishedRelevance(test::dataPath("tiny-vit"));
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("tiny-vit") != std::string::npos, e.what());
        }
    }
};

BIASSCOPE_REGISTER_TEST(TestNeuronConsistency)
#include "TestNeuronConsistency.moc"
