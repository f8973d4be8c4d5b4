// The built-in demo as a scientific instrument: on the planted-bias benchmark, the analyses must find
// the bias that was planted and must not find it where there is none. Three demos (bias 0.5, 0.8,
// 0.95; seed 1) are built with the real pipeline (generator, our trainer, feathering, relevance).
// The demo is made with one compute thread (study/Demo.cpp), so these runs are deterministic; the
// margins come from the measured values (docs/demo.md):
//                                   0.5      0.8      0.95
//   confidence drop (feathered)    -0.001   -0.007    0.099
//   |R| outside the object          0.467    0.411    0.817
//   concept-head similarity         0.105    0.077    0.461
//   Attention-IoU background        0.287    0.389    0.848
//   Attention-IoU object            0.747    0.653    0.286
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "TestRegistry.h"
#include "data/PlantedBias.h"
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
        // every mask equals the fill of its COCO polygon (what feathering uses) and is not empty
        const fs::path root(tmp.path().toStdString());
        const auto coco = io::readCocoAnnotations((root / "annotations.json").string());
        int checked = 0;
        for (const char* c : data::kPlantedClasses)
            for (const auto& e : fs::directory_iterator(root / c)) {
                if (e.path().extension() != ".png") continue;
                const auto* a = coco.find(e.path().filename().string());
                QVERIFY(a);
                const cv::Mat mask = cv::imread((root / c / "mask" / e.path().filename()).string(), cv::IMREAD_GRAYSCALE);
                const cv::Mat fill = preprocess::polygonMask(mask.cols, mask.rows, a->polygons);
                QCOMPARE(cv::countNonZero(mask != fill), 0);
                QVERIFY(cv::countNonZero(mask) > 50);
                if (++checked > 40) break;
            }
        // the same seed gives the same data
        QTemporaryDir tmp2;
        data::writePlantedBiasDataset(tmp2.path().toStdString(), o);
        std::ifstream m1(root / "metadata.csv"), m2(fs::path(tmp2.path().toStdString()) / "metadata.csv");
        QVERIFY(std::string(std::istreambuf_iterator<char>(m1), {}) == std::string(std::istreambuf_iterator<char>(m2), {}));
    }

    void analysesFindThePlantedBias() {
        QTemporaryDir tmp;
        std::map<int, study::DemoMeasures> m;
        for (int b : {50, 80, 95}) {
            study::DemoOptions o;
            o.outDir = (fs::path(tmp.path().toStdString()) / ("demo" + std::to_string(b))).string();
            o.bias = b / 100.0;
            study::buildDemo(o);
            m[b] = study::measureDemo(o.outDir);
            const auto& d = m[b];
            qInfo("bias %.2f: acc %.3f (feathered %.3f), conf %.3f -> %.3f, outside %.3f, concept %.3f, IoU bg %.3f obj %.3f", b / 100.0, d.accuracy,
                  d.accuracyMasked, d.confidence, d.confidenceMasked, d.outsideRelevance, d.conceptSimilarity, d.iouBackground, d.iouObject);
        }
        const auto &none = m[50], &mid = m[80], &strong = m[95];
        // no bias: the shape is learnt; removing the context costs nothing
        QVERIFY(none.accuracy > 0.9);
        QVERIFY(none.confidence - none.confidenceMasked < 0.02);
        // strong bias: removing the context costs confidence
        QVERIFY(strong.confidence - strong.confidenceMasked > 0.05);
        // more relevance outside the object, and the context concept's relevance resembles the class's
        QVERIFY(strong.outsideRelevance > none.outsideRelevance + 0.1);
        QVERIFY(strong.conceptSimilarity > none.conceptSimilarity + 0.2);
        // Attention-IoU with the background rises with the bias, with the object it falls (Waterbirds)
        QVERIFY(mid.iouBackground > none.iouBackground + 0.05);
        QVERIFY(strong.iouBackground > mid.iouBackground + 0.2);
        QVERIFY(none.iouObject > mid.iouObject + 0.05);
        QVERIFY(mid.iouObject > strong.iouObject + 0.2);
    }
};

BIASSCOPE_REGISTER_TEST(TestPlantedBiasDemo)
#include "TestPlantedBiasDemo.moc"
