// The Attention-IoU view driven as a user would: score runs in the worker thread on planted-bias
// data at two bias levels (models trained here), the score table, image browsing with per-image
// scores, the three figures (bars, score vs bias, heatmap scatter on a CelebAMask-HQ fixture with its
// evaluation), export, cancel (nothing half-written), a bad result file; screenshots of every tab.
// LibTorch before Qt (Qt's `slots` macro clashes with torch's IValue::slots())
#include <ATen/Parallel.h>
#include <torch/types.h>

#include "attention/AttentionStudy.h"
#include "attention/AttentionTraining.h"

#include <QDir>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>
#include <random>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "AttentionPanel.h"
#include "TestFixtures.h"
#include "MainWindow.h"
#include "data/AttentionData.h"
#include "data/PlantedBias.h"
#include "figures/FigureExport.h"
#include "model/CnnModel.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {
void shot(QWidget& w, const QString& name) {
    QDir().mkpath(BIASSCOPE_SCREENSHOT_DIR);
    QVERIFY(w.grab().save(QString(BIASSCOPE_SCREENSHOT_DIR) + "/" + name));
}
}  // namespace

class TestAttentionPanel : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    fs::path dir() const { return fs::path(tmp_.path().toStdString()); }
    std::map<double, std::vector<std::string>> models_;

private slots:
    void initTestCase() {
        at::set_num_threads(2);
        model::saveCnnModel(test::tinyResNet(1, 10), (dir() / "init.safetensors").string());
        for (double bias : {0.5, 0.95}) {
            const std::string tag = bias == 0.5 ? "50" : "95";
            data::PlantedBiasOptions p;
            p.bias = bias;
            p.trainPerClass = 60;
            p.valPerClass = 10;
            p.testPerClass = 12;
            p.size = 64;
            data::writePlantedBiasDataset((dir() / ("wb" + tag)).string(), p);
            attention::AttentionTrainOptions o;
            o.root = (dir() / ("wb" + tag)).string();
            o.init = (dir() / "init.safetensors").string();
            o.trainMultiple = 2;
            o.train.epochs = 3;
            o.train.batchSize = 16;
            o.train.workers = 2;
            o.train.transform.size = 64;
            o.outDir = (dir() / ("models" + tag)).string();
            models_[bias] = attention::trainAttentionModels(o).modelPaths;
        }
    }

    void scoresBrowsingAndFigures() {
        ui::MainWindow w;
        w.resize(1300, 820);
        w.show();
        w.showTab(2);
        ui::AttentionPanel* p = w.attentionPanel();
        for (double bias : {0.5, 0.95}) {
            const std::string tag = bias == 0.5 ? "50" : "95";
            attention::AttentionRunOptions o;
            o.root = (dir() / ("wb" + tag)).string();
            o.models = models_[bias];
            o.size = 64;
            o.outDir = (dir() / ("scores" + tag)).string();
            p->setRequest(o);
            QSignalSpy done(p, &ui::AttentionPanel::scoresFinished);
            p->runScores();
            QVERIFY(p->busy());
            QVERIFY(done.wait(120000));
            QVERIFY2(done.takeFirst().at(0).toBool(), qPrintable(p->statusText()));
        }
        QCOMPARE(p->resultCount(), 2);
        // table: same, different, all + the uniform-map row; mean +- std over the two models
        QCOMPARE(p->tableRows(), 4);
        const auto s95 = attention::readScoreSummary(
            (dir() / "scores95/Masks-waterbirds_GradCAM_element_wise_normalized_averaged_scores.json").string());
        QCOMPARE(p->tableText(2, 1), QString("%1 ± %2").arg(s95.mean[2][1], 0, 'f', 3).arg(s95.std[2][1], 0, 'f', 3));
        QVERIFY(!p->tableText(3, 0).contains("±"));  // uniform baseline: a number
        QVERIFY(std::abs(s95.trainAgreement - 0.95) < 0.03);
        // the localisation measures of the same run (not published): AUC of the bird column, no uniform row
        p->setMeasure(3);
        const auto [aucMean, aucStd] = s95.localisationTable("auc");
        QCOMPARE(p->tableRows(), 3);
        QCOMPARE(p->tableText(2, 1), QString("%1 ± %2").arg(aucMean[2][1], 0, 'f', 3).arg(aucStd[2][1], 0, 'f', 3));
        QVERIFY(aucMean[2][1] > 0 && aucMean[2][1] <= 1);
        p->tabs()->setCurrentIndex(1);
        shot(w, "attention-scores-auc.png");
        p->setMeasure(0);
        QCOMPARE(p->tableRows(), 4);

        // image browsing: the maps of image 5 of the test split and its scores
        QSignalSpy img(p, &ui::AttentionPanel::imageReady);
        p->showImage(5);
        QVERIFY(img.wait(30000));
        QVERIFY(img.takeFirst().at(0).toBool());
        QCOMPARE(p->splitSize(), 24);
        QVERIFY2(p->imageScoresText().contains("background") && p->imageScoresText().contains("bird"), qPrintable(p->imageScoresText()));
        p->tabs()->setCurrentIndex(0);
        shot(w, "attention-image.png");
        p->tabs()->setCurrentIndex(1);
        shot(w, "attention-scores.png");

        // figures: 2 segments x (bars + error bars); the curve's points sit at the data's bias
        p->tabs()->setCurrentIndex(2);
        p->setFigure(ui::AttentionPanel::Figure::MaskBars);
        QCOMPARE(p->figurePlottables(), 4);
        shot(w, "attention-mask-bars.png");
        p->setFigure(ui::AttentionPanel::Figure::ScoreVsBias);
        QCOMPARE(p->figurePlottables(), 4);
        shot(w, "attention-score-vs-bias.png");
        for (const char* ext : {"pdf", "svg", "png"}) {
            const QString f = QString::fromStdString((dir() / "curve.").string()) + ext;
            ui::FigureExportOptions fo;
            fo.widthInches = 3.5;
            fo.heightInches = 2.6;
            fo.dpi = 200;
            p->exportFigure(f, fo);
            QVERIFY(QFileInfo(f).size() > 1000);
            QVERIFY(QFile::exists(f + ".json"));
        }

        // a file that is not a score sidecar: refused with its name, nothing lost
        std::ofstream(dir() / "bad.json") << "{\"score\": 3}";
        QVERIFY(!p->addResult(QString::fromStdString((dir() / "bad.json").string())));
        QVERIFY(p->statusText().contains("bad.json"));
        QCOMPARE(p->resultCount(), 2);
    }

    void cancelLeavesNoHalfWrittenModel() {
        ui::AttentionPanel p;
        attention::AttentionRunOptions o;
        o.root = (dir() / "wb95").string();
        o.models = models_[0.95];
        o.size = 64;
        o.batchSize = 1;
        o.outDir = (dir() / "cancelled").string();
        p.setRequest(o);
        QSignalSpy done(&p, &ui::AttentionPanel::scoresFinished);
        p.runScores();
        p.cancel();
        QVERIFY(done.wait(60000));
        QVERIFY(!done.takeFirst().at(0).toBool());
        QVERIFY(p.statusText().contains("Cancelled"));
        // per-model files are written whole or not at all; no published CSV for an unfinished run
        QVERIFY(!fs::exists(fs::path(o.outDir) / "Masks-waterbirds_GradCAM_element_wise_normalized_averaged_scores.csv"));
        if (fs::exists(fs::path(o.outDir) / "models"))
            for (const auto& e : fs::directory_iterator(fs::path(o.outDir) / "models")) {
                std::ifstream in(e.path());
                int lines = 0;
                for (std::string l; std::getline(in, l);) ++lines;
                QCOMPARE(lines, 25);  // header + 24 test images
            }
        QCOMPARE(p.resultCount(), 0);
    }

    void heatmapScatterFromCelebA() {
        // CelebAMask-HQ fixture: 40 images, hair / skin label maps, Blond_Hair correlated with Male
        const fs::path root = dir() / "celeb";
        fs::create_directories(root / "CelebA-HQ-img");
        fs::create_directories(root / "CelebAMask-HQ-mask");
        std::string csv = "filename Blond_Hair Male\n";
        std::mt19937 rng(3);
        for (int i = 0; i < 40; ++i) {
            const bool male = i % 2, blond = (rng() % 10) < (male ? 2u : 6u);
            cv::Mat img(48, 48, CV_8UC3, cv::Scalar(40 + 3 * i, 90, blond ? 200 : 60));
            cv::circle(img, {24, 28}, 14, cv::Scalar(150, 170, 210), -1);
            cv::imwrite((root / "CelebA-HQ-img" / (std::to_string(i) + ".jpg")).string(), img);
            cv::Mat lab(48, 48, CV_8UC1, cv::Scalar(0));
            cv::rectangle(lab, {6, 2}, {42, 16}, cv::Scalar(13), -1);  // hair
            cv::circle(lab, {24, 28}, 14, cv::Scalar(1), -1);          // skin
            cv::imwrite((root / "CelebAMask-HQ-mask" / (std::to_string(i) + ".png")).string(), lab);
            csv += std::to_string(i) + ".jpg" + (blond ? " 1" : " -1") + (male ? " 1\n" : " -1\n");
        }
        std::ofstream(root / "CelebAMask-HQ-attribute-anno.csv") << csv;
        std::vector<std::string> models;
        for (std::uint64_t k = 0; k < 2; ++k) {
            auto m = test::tinyResNet(20 + k, 40);
            m.labels = data::celebAttributeNames();
            models.push_back((dir() / ("celeb-" + std::to_string(k) + ".safetensors")).string());
            model::saveCnnModel(m, models.back());
        }
        attention::AttentionRunOptions o;
        o.dataset = "celeba";
        o.root = root.string();
        o.models = models;
        o.attribute = "Blond_Hair";
        o.score = attention::ScoreKind::Heatmap;
        o.size = 128;  // a 4x4 GradCAM grid for the tiny ResNet
        o.outDir = (dir() / "celeb-scores").string();
        const auto ev = attention::runEvaluation(o);  // into the same folder: the scatter's x
        ui::AttentionPanel p;
        p.resize(1200, 760);
        p.show();
        p.setRequest(o);
        QSignalSpy done(&p, &ui::AttentionPanel::scoresFinished);
        p.runScores();
        QVERIFY(done.wait(60000));
        QVERIFY2(done.takeFirst().at(0).toBool(), qPrintable(p.statusText()));
        p.setFigure(ui::AttentionPanel::Figure::HeatmapScatter);
        QCOMPARE(p.figurePlottables(), 3);  // one point + its two error bars
        const auto s = attention::readScoreSummary(
            (dir() / "celeb-scores/Heatmap-all_Blond_Hair_Male_GradCAM_element_wise_normalized_averaged_scores.json").string());
        QVERIFY(s.mcc.has_value());
        QVERIFY2(!std::isnan(s.mean.back()[0]), "the fixture's maps must not all be constant");
        QCOMPARE(s.mcc->first, ev.mean[1]);  // metric 1: mcc_pred_Blond_Hair_Male
        p.tabs()->setCurrentIndex(2);
        shot(p, "attention-heatmap-scatter.png");
        // the image view shows the confounder's map for CelebA
        QSignalSpy img(&p, &ui::AttentionPanel::imageReady);
        p.showImage(0);
        QVERIFY(img.wait(30000));
        QVERIFY(p.imageScoresText().contains("Heatmap score"));
        QVERIFY(p.imageScoresText().contains("hair"));
    }
};

QTEST_MAIN(TestAttentionPanel)
#include "TestAttentionPanel.moc"
