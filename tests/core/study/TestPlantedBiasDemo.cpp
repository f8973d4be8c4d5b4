// The built-in demo as a scientific instrument: on the planted-bias benchmark, the analyses must find
// the bias that was planted (0.95) and not find it where there is none (0.5). The demos are built with
// the real pipeline (generator, our trainer, feathering, relevance) and one compute thread: the same
// machine and build give the same numbers; other BLAS kernels and LibTorch builds train other models.
// So three models per bias (seeds 1-3) are built and the population is asserted (means, the median
// accuracy), with margins below the smallest values seen across kernels, builds and seeds (docs/demo.md,
// "Spread"; the data design is colour cue 0.2, plain share 0.1). The measures come from the fixture
// tests that built the models (study::measureDemoCached). The three-level rise 0.5 / 0.8 / 0.95 is
// TestPlantedBiasGradient.
#include <cmath>
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "DemoFixture.h"
#include "TestRegistry.h"
#include "attention/AttentionStudy.h"
#include "data/PlantedBias.h"
#include "data/Raster.h"
#include "io/AtomicFile.h"
#include "io/CocoAnnotations.h"
#include "preprocess/Feathering.h"
#include "study/Demo.h"
#include "study/DemoChecks.h"

using namespace biasscope;
namespace fs = std::filesystem;

class TestPlantedBiasDemo : public QObject {
    Q_OBJECT
private slots:

    void generatorWritesExactMasksAndPlantsTheBias() {
        QTemporaryDir tmp;
        data::PlantedBiasOptions o;
        o.bias = 0.9;
        o.trainPerClass = 200;
        o.valPerClass = 10;
        o.testPerClass = 10;
        const auto s = data::writePlantedBiasDataset(tmp.path().toStdString(), o);
        QCOMPARE(s.train, 400);
        QCOMPARE(s.test, 20);
        const double aligned = static_cast<double>(s.trainAligned) / s.train;
        QVERIFY2(std::abs(aligned - 0.9) < 0.04, qPrintable(QString::number(aligned)));  // binomial, n = 400
        QCOMPARE(s.trainPlain, 0);
        // every mask equals the pixel-centre fill of its COCO polygon (data/Raster) and is not empty
        const fs::path root(tmp.path().toStdString());
        const auto coco = io::readCocoAnnotations((root / "annotations.json").string());
        int checked = 0;
        for (const char* c : data::kPlantedClasses)
            for (const auto& e : fs::directory_iterator(root / c)) {
                if (e.path().extension() != ".png") continue;
                const auto* a = coco.find(e.path().filename().string());
                QVERIFY(a);
                const cv::Mat mask = cv::imread((root / c / "mask" / e.path().filename()).string(), cv::IMREAD_GRAYSCALE);
                const cv::Mat fill = data::fillPolygonsAtPixelCentres(mask.cols, mask.rows, a->polygons);
                QCOMPARE(cv::countNonZero(mask != fill), 0);
                QVERIFY(cv::countNonZero(mask) > 50);
                if (++checked > 40) break;
            }
        // the same seed gives the same data
        QTemporaryDir tmp2;
        data::writePlantedBiasDataset(tmp2.path().toStdString(), o);
        auto bytes = [](const fs::path& p) {
            std::ifstream in(p, std::ios::binary);
            return std::string(std::istreambuf_iterator<char>(in), {});
        };
        const fs::path root2(tmp2.path().toStdString());
        QVERIFY(bytes(root / "metadata.csv") == bytes(root2 / "metadata.csv"));
        for (const char* f : {"circle/train_circle_3.png", "triangle/test_triangle_7.png", "triangle/mask/val_triangle_2.png"})
            QVERIFY2(bytes(root / f) == bytes(root2 / f), f);  // the pixels too, whatever ran before in this thread
    }

    void plainBackgroundsAndColourCue() {
        QTemporaryDir tmp;
        data::PlantedBiasOptions o;
        o.bias = 0.8;
        o.trainPerClass = 200;
        o.valPerClass = 10;
        o.testPerClass = 10;
        o.plainShare = 0.2;
        o.colourCue = 1.0;  // every object in its class colour
        const auto s = data::writePlantedBiasDataset(tmp.path().toStdString(), o);
        QVERIFY2(std::abs(s.trainPlain / 400.0 - 0.2) < 0.06, qPrintable(QString::number(s.trainPlain)));
        QVERIFY2(std::abs(static_cast<double>(s.trainAligned) / (s.train - s.trainPlain) - 0.8) < 0.07, qPrintable(QString::number(s.trainAligned)));
        const fs::path root(tmp.path().toStdString());
        auto lines = [](const fs::path& p) {
            std::ifstream in(p);
            std::vector<std::string> v;
            for (std::string l; std::getline(in, l);) v.push_back(l);
            return v;
        };
        // metadata.csv and place.csv (Waterbirds layout, concept head) leave the plain images out; class.csv has all
        QCOMPARE(static_cast<int>(lines(root / "metadata.csv").size()) - 1, s.train + s.val + s.test - s.trainPlain);
        QCOMPARE(static_cast<int>(lines(root / "place.csv").size()) - 1, s.train + s.val + s.test - s.trainPlain);
        QCOMPARE(static_cast<int>(lines(root / "class.csv").size()) - 1, s.train + s.val + s.test);
        for (const auto& l : lines(root / "metadata.csv")) QVERIFY2(l.find(",2,0,") == std::string::npos, l.c_str());
        // a plain image: grey around the object; colour cue 1: the circle is yellow (BGR 40, 210, 230) up to shading
        int plainSeen = 0;
        const auto classRows = lines(root / "class.csv");
        std::set<std::string> listed;
        for (const auto& l : lines(root / "metadata.csv")) listed.insert(l.substr(0, l.find(',')));
        for (std::size_t i = 1; i < classRows.size() && plainSeen < 5; ++i) {
            const std::string rel = classRows[i].substr(0, classRows[i].find(','));
            if (listed.count(rel)) continue;
            const cv::Mat img = cv::imread((root / rel).string());
            const cv::Mat mask = cv::imread((root / fs::path(rel).parent_path() / "mask" / fs::path(rel).filename()).string(), cv::IMREAD_GRAYSCALE);
            const cv::Scalar bg = cv::mean(img, mask == 0);
            QVERIFY2(std::abs(bg[0] - bg[1]) < 6 && std::abs(bg[1] - bg[2]) < 6 && bg[0] > 100 && bg[0] < 156, rel.c_str());
            if (rel.rfind("circle/", 0) == 0) {
                const cv::Scalar fg = cv::mean(img, mask);
                QVERIFY2(std::abs(fg[0] - 40) < 12 && std::abs(fg[1] - 210) < 12 && std::abs(fg[2] - 230) < 12, rel.c_str());
            }
            ++plainSeen;
        }
        QVERIFY(plainSeen > 0);
    }

    void measuresAreRememberedPerModel() {
        // the measures the fixture stored are those of the model (a fresh measurement agrees; it may run
        // on more threads, hence the tolerance), a stored file is used while its key holds, and a key that
        // no longer matches (another model) is measured anew and rewritten
        const auto o = test::demoModel(50, 1);
        const auto file = fs::path(o.outDir) / "measures.json";
        const auto stored = study::demoMeasuresJson(study::measureDemoCached(o.outDir));
        QVERIFY(fs::exists(file));
        const auto fresh = study::demoMeasuresJson(study::measureDemo(o.outDir));
        for (auto it = fresh.begin(); it != fresh.end(); ++it)
            QVERIFY2(std::abs(it.value().get<double>() - stored.at(it.key()).get<double>()) < 1e-4, it.key().c_str());
        nlohmann::json j = nlohmann::json::parse(std::ifstream(file));
        j["measures"]["accuracy"] = 42.0;
        io::writeFileAtomically(file.string(), j.dump());
        QCOMPARE(study::measureDemoCached(o.outDir).accuracy, 42.0);
        j["key"]["class_weights"] = "another model";
        io::writeFileAtomically(file.string(), j.dump());
        QVERIFY(std::abs(study::measureDemoCached(o.outDir).accuracy - stored.at("accuracy").get<double>()) < 1e-4);
        // the rewritten file carries the real key again, and is what the next call reads
        nlohmann::json rewritten = nlohmann::json::parse(std::ifstream(file));
        QCOMPARE(rewritten["key"]["class_weights"].get<std::string>().size(), std::size_t(64));
        rewritten["measures"]["accuracy"] = 43.0;
        io::writeFileAtomically(file.string(), rewritten.dump());
        QCOMPARE(study::measureDemoCached(o.outDir).accuracy, 43.0);
        rewritten["measures"] = stored;
        io::writeFileAtomically(file.string(), rewritten.dump());
    }

    void analysesFindThePlantedBias() {
        // three models per bias (seeds 1-3: data, initialisation, training); the fixture's b95s1 also gets
        // its study run (the store the GUI test opens in the explorer)
        std::map<int, std::vector<study::DemoMeasures>> m;
        std::map<int, std::vector<std::string>> models;
        for (int b : {50, 95})
            for (std::uint64_t seed : {1, 2, 3}) {
                const auto o = test::demoModel(b, seed);
                if (b == 95 && seed == 1 && qEnvironmentVariableIsSet("BIASSCOPE_DEMO_FIXTURE")) study::runDemoStudy(o, study::buildDemo(o));
                const auto d = study::measureDemoCached(o.outDir);
                qInfo("bias %.2f seed %d: acc %.3f, conf aligned %.3f -> %.3f, context effect %.3f, outside %.3f, concept %.3f, IoU bg %.3f obj %.3f", b / 100.0,
                      static_cast<int>(seed), d.accuracy, d.confidenceAligned, d.confidenceAlignedMasked, d.contextEffect(), d.outsideRelevance,
                      d.conceptSimilarity, d.iouBackground, d.iouObject);
                m[b].push_back(d);
                models[b].push_back((fs::path(o.outDir) / "models/class/best").string());
            }
        auto mean = [&](int b, double (*f)(const study::DemoMeasures&)) {
            double s = 0;
            for (const auto& d : m[b]) s += f(d);
            return s / static_cast<double>(m[b].size());
        };
        auto median = [&](int b, double (*f)(const study::DemoMeasures&)) {
            std::vector<double> v;
            for (const auto& d : m[b]) v.push_back(f(d));
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        using F = double (*)(const study::DemoMeasures&);
        const F accuracy = [](const study::DemoMeasures& d) { return d.accuracy; };
        const F context = [](const study::DemoMeasures& d) { return d.contextEffect(); };
        const F outside = [](const study::DemoMeasures& d) { return d.outsideRelevance; };
        const F conceptSim = [](const study::DemoMeasures& d) { return d.conceptSimilarity; };
        const F iouBackground = [](const study::DemoMeasures& d) { return d.iouBackground; };
        const F iouObject = [](const study::DemoMeasures& d) { return d.iouObject; };
        auto report = [](const char* what, double a, double b) { return qPrintable(QString("%1: %2 vs %3").arg(what).arg(a).arg(b)); };
        // no bias: the models learn the object (one model of three may be fragile on some kernels: Nehalem
        // seed 2 reaches 0.51, so the median and the mean are asserted); strong bias: the background takes over
        QVERIFY2(median(50, accuracy) > kMinUnbiasedMedianAccuracy, report("median unbiased accuracy", median(50, accuracy), kMinUnbiasedMedianAccuracy));
        QVERIFY2(mean(50, accuracy) > kMinUnbiasedMeanAccuracy, report("mean unbiased accuracy", mean(50, accuracy), kMinUnbiasedMeanAccuracy));
        QVERIFY2(mean(95, accuracy) < mean(50, accuracy) - kAccuracyDrop, report("mean accuracy 0.95 vs 0.5", mean(95, accuracy), mean(50, accuracy)));
        // removing the context moves the biased models' confidence in the direction of the training pairing
        // (down where the background agrees with the class, up where it conflicts), not the unbiased ones'
        QVERIFY2(mean(95, context) > kMinBiasedContextEffect, report("mean context effect 0.95", mean(95, context), kMinBiasedContextEffect));
        QVERIFY2(std::abs(mean(50, context)) < kMaxUnbiasedContextEffect, report("mean context effect 0.5", mean(50, context), kMaxUnbiasedContextEffect));
        QVERIFY2(mean(95, context) > mean(50, context) + kContextRise, report("context effect 0.95 vs 0.5", mean(95, context), mean(50, context)));
        // more relevance outside the object, and the paired context concept's relevance resembles the class's
        QVERIFY2(mean(95, outside) > mean(50, outside) + kOutsideRise, report("outside relevance 0.95 vs 0.5", mean(95, outside), mean(50, outside)));
        QVERIFY2(mean(95, conceptSim) > mean(50, conceptSim) + kConceptRise, report("concept similarity 0.95 vs 0.5", mean(95, conceptSim), mean(50, conceptSim)));
        // Attention-IoU: higher with the background, lower with the object (the Waterbirds result)
        QVERIFY2(mean(95, iouBackground) > mean(50, iouBackground) + kIouBackgroundRise,
                 report("IoU background 0.95 vs 0.5", mean(95, iouBackground), mean(50, iouBackground)));
        QVERIFY2(mean(50, iouObject) > mean(95, iouObject) + kIouObjectFall, report("IoU object 0.5 vs 0.95", mean(50, iouObject), mean(95, iouObject)));
        // the same through study 2's pipeline: `aiou score` GradCAM (block -2) over the three models per bias,
        // aggregated as published (per-model nanmean, then the mean over models)
        std::map<int, std::pair<double, double>> gradcam;
        for (int b : {50, 95}) {
            attention::AttentionRunOptions ao;
            ao.root = (fs::path(test::demoModel(b, 1).outDir) / "data").string();
            ao.models = models[b];
            ao.size = 64;
            ao.outDir = (fs::path(test::demoModel(b, 1).outDir) / "aiou-3models").string();
            const auto r = attention::runAttentionScores(ao);
            gradcam[b] = {r.aggregate.mean[2][0], r.aggregate.mean[2][1]};
            qInfo("bias %.2f: GradCAM mask score (all groups, 3 models) background %.3f bird %.3f", b / 100.0, gradcam[b].first, gradcam[b].second);
        }
        // Both GradCAM scores are reported, not asserted (docs/demo.md, "Spread"): the background score rose on
        // every kernel and build of an Intel Xeon and under Nehalem, Prescott and Sandybridge kernels on an AMD
        // EPYC, but fell with the EPYC's default Zen kernels (0.576 -> 0.538); the bird score fell on Debian 12
        // and the wheel but rose on Debian 13 (0.337 -> 0.365). GradCAM at block -2 of this small ViT does not
        // robustly show the planted bias; the relevance maps' Attention-IoU above does, everywhere measured.
        // What is asserted of it: the pipeline gives scores in [0, 1] for both levels.
        for (int b : {50, 95})
            for (double v : {gradcam[b].first, gradcam[b].second})
                QVERIFY2(std::isfinite(v) && v >= 0 && v <= 1, report("GradCAM mask score", v, 1.0));
    }

private:
    // Margins taken from the spread measured across BLAS kernels, LibTorch builds and seeds (docs/demo.md,
    // "Spread"): each is below the smallest value of its measure (or difference of means) seen there, with
    // room; the comment gives that smallest value.
    static constexpr double kMinUnbiasedMedianAccuracy = 0.85;  // 0.925
    static constexpr double kMinUnbiasedMeanAccuracy = 0.72;    // 0.811
    static constexpr double kAccuracyDrop = 0.08;               // 0.161
    static constexpr double kMinBiasedContextEffect = 0.4;      // 0.609
    static constexpr double kMaxUnbiasedContextEffect = 0.16;   // |mean| at most 0.081
    static constexpr double kContextRise = 0.35;                // 0.552
    static constexpr double kOutsideRise = 0.06;                // 0.122
    static constexpr double kConceptRise = 0.2;                 // 0.414
    static constexpr double kIouBackgroundRise = 0.15;          // 0.289
    static constexpr double kIouObjectFall = 0.06;              // 0.134
};

BIASSCOPE_REGISTER_TEST(TestPlantedBiasDemo)
#include "TestPlantedBiasDemo.moc"
