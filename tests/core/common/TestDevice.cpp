// The same computations on the device given by the test executable's --device option (bench/device-check.sh
// passes --device cuda) as on the CPU: relevance (CP-LRP, AttnLRP, Gamma; every output of the engine), GradCAM,
// plain logits, and training (the first epochs of a full ViT and a CNN run). float32 throughout: TF32 is
// switched off for the comparison (cuDNN convolutions use it by default). Skipped when no device is given;
// --device cpu-self runs the comparisons CPU against CPU (a check of this test itself).
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>

#include <ATen/Context.h>
#include <torch/types.h>

#include "TestFixtures.h"
#include "TestRegistry.h"
#include "attention/GradCam.h"
#include "common/Device.h"
#include "data/Datasets.h"
#include "data/SyntheticImage.h"
#include "explain/RelevanceEngine.h"
#include "model/RandomVit.h"
#include "model/VitWeights.h"
#include "train/Trainer.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {
void expectClose(const at::Tensor& onDevice, const at::Tensor& onCpu, double rtol, const char* what) {
    QVERIFY2(onDevice.defined() == onCpu.defined(), what);
    if (!onCpu.defined()) return;
    const QString e = test::compareTensors(onDevice.cpu(), onCpu, rtol, 1e-6);
    QVERIFY2(e.isEmpty(), qPrintable(QString(what) + ": " + e));
}
}  // namespace

class TestDevice : public QObject {
    Q_OBJECT
    c10::Device device_{c10::kCPU};

private slots:
    void initTestCase() {
        if (test::deviceName() == "cpu") QSKIP("no --device given: nothing to compare with the CPU (bench/device-check.sh passes --device cuda)");
        device_ = resolveDevice(test::deviceName() == "cpu-self" ? "cpu" : test::deviceName());
        qInfo("device: %s", describeDevice(device_).c_str());
        at::globalContext().setAllowTF32CuBLAS(false);
        at::globalContext().setAllowTF32CuDNN(false);
    }

    void relevanceEqualsTheCpu() {
        const auto cpu = model::loadVitModel(test::dataPath("tiny-vit"));
        const auto dev = cpu.to(device_);
        torch::manual_seed(3);
        const at::Tensor x = torch::randn({1, 3, cpu.backbone.config.imageSize, cpu.backbone.config.imageSize});
        const std::vector<explain::Target> targets{{0, 0}, {0, 2}, {0, 4}};
        for (int variant = 0; variant < 4; ++variant) {
            explain::RelevanceOptions o;
            o.rule = variant == 1 ? explain::AttentionRule::AttnLRP : explain::AttentionRule::CP;
            o.gamma.enabled = variant == 2;
            o.readout = variant == 3 ? explain::Readout::Gradient : explain::Readout::Relevance;
            o.sites = {explain::Site::Intermediate, explain::Site::Final, explain::Site::LnBefore, explain::Site::LnAfter, explain::Site::Attention};
            const auto a = explain::explainBatched(cpu, x, targets, o);
            const auto b = explain::explainBatched(dev, x.to(device_), targets, o);
            const std::string v = "variant " + std::to_string(variant);
            expectClose(b.inputHeatmap, a.inputHeatmap, 1e-4, (v + " input heatmap").c_str());
            for (std::size_t h = 0; h < a.logits.size(); ++h) expectClose(b.logits[h], a.logits[h], 1e-5, (v + " logits").c_str());
            QCOMPARE(b.sites.size(), a.sites.size());
            for (std::size_t s = 0; s < a.sites.size(); ++s) {
                expectClose(b.sites[s].perNeuron, a.sites[s].perNeuron, 1e-4, (v + " " + explain::toString(a.sites[s].site) + " per neuron").c_str());
                expectClose(b.sites[s].perToken, a.sites[s].perToken, 1e-4, (v + " " + explain::toString(a.sites[s].site) + " per token").c_str());
            }
            expectClose(b.pixelRelevance, a.pixelRelevance, 1e-4, (v + " accounting").c_str());
        }
    }

    void gradCamAndLogitsEqualTheCpu() {
        const auto cnn = test::tinyResNet(5, 3);
        torch::manual_seed(4);
        const at::Tensor x = torch::randn({2, 3, 64, 64});
        for (auto t : {attention::CamTarget::AbsLogit, attention::CamTarget::Logit, attention::CamTarget::PredictedClass}) {
            const auto a = attention::gradCam(cnn, x, t, 1);
            const auto b = attention::gradCam(cnn.to(device_), x.to(device_), t, 1);
            expectClose(b.raw, a.raw, 1e-4, "GradCAM raw");
            expectClose(b.maps, a.maps, 1e-4, "GradCAM maps");
            QCOMPARE(b.explained, a.explained);
        }
        const auto vit = model::loadVitModel(test::dataPath("tiny-vit"));
        const at::Tensor y = torch::randn({4, 3, vit.backbone.config.imageSize, vit.backbone.config.imageSize});
        expectClose(explain::vitLogits(vit.to(device_), y.to(device_)).front(), explain::vitLogits(vit, y).front(), 1e-5, "ViT logits");
    }

    void trainingEqualsTheCpu() {
        QTemporaryDir tmp;
        const fs::path root(tmp.path().toStdString());
        data::writeColourDiscDataset((root / "data").string(), 40, 1);
        const auto data = data::loadImageFolder((root / "data").string(), 42);
        std::vector<train::TrainResult> r;
        for (const c10::Device d : {c10::Device(c10::kCPU), device_}) {
            train::TrainOptions o;
            o.mode = train::TrainMode::Full;
            o.outDir = (root / (d.is_cpu() ? "cpu" : "device")).string();
            o.batchSize = 16;
            o.workers = 1;
            o.lr = 1e-3;
            o.epochs = 2;
            o.patience = 2;
            o.seed = 5;
            o.device = d;
            r.push_back(train::trainClassifier(model::makeRandomVitModel(model::tinyVitConfig(2), {9}), data, o));
        }
        for (std::size_t e = 0; e < r[0].history.size(); ++e) {
            const double a = r[0].history[e].trainLoss, b = r[1].history[e].trainLoss;
            QVERIFY2(std::abs(a - b) <= 1e-3 * std::abs(a) + 1e-5, qPrintable(QString("epoch %1 loss cpu %2 device %3").arg(e + 1).arg(a).arg(b)));
        }
    }
};

BIASSCOPE_REGISTER_TEST(TestDevice)
#include "TestDevice.moc"
