// Study-2 CNN training: the Adam update against torch::optim, the published loss weights and losses
// against their formulas, the new head, the CelebA training sets (one-sided, MCC-subsampled), and
// training runs on the planted-bias data (learning, resume = uninterrupted run, cancel, K models).
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <atomic>
#include <filesystem>
#include <fstream>

#include <ATen/Parallel.h>
#undef slots  // Qt's macro clashes with torch/csrc/jit (pulled in by torch/optim)
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#define slots Q_SLOTS
#include <torch/types.h>

#include "TestFixtures.h"
#include "TestRegistry.h"
#include "attention/Aggregation.h"
#include "attention/AttentionTraining.h"
#include "data/PlantedBias.h"
#include "io/Safetensors.h"
#include "model/CnnModel.h"
#include "train/Adam.h"
#include "train/CnnTrainer.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {
}  // namespace

class TestCnnTrainer : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    fs::path dir() const { return fs::path(tmp_.path().toStdString()); }
    fs::path planted_;

private slots:
    void initTestCase() {
        at::set_num_threads(1);  // bitwise resume equivalence holds for one thread
        planted_ = dir() / "planted";
        data::PlantedBiasOptions p;
        p.bias = 0.5;
        p.trainPerClass = 48;
        p.valPerClass = 16;
        p.testPerClass = 8;
        p.size = 32;
        p.seed = 3;
        data::writePlantedBiasDataset(planted_.string(), p);
    }

    void adamMatchesTorchOptim() {
        for (bool decoupled : {false, true}) {
            torch::manual_seed(1);
            const at::Tensor start = torch::randn({5, 3}), target = torch::randn({5, 3});
            at::Tensor ours = start.clone().set_requires_grad(true), theirs = start.clone().set_requires_grad(true);
            train::Adam opt;
            opt.params = {&ours};
            opt.lr = 0.05;
            opt.wd = 0.1;
            opt.decoupled = decoupled;
            opt.init();
            std::unique_ptr<torch::optim::Optimizer> ref;
            if (decoupled)
                ref = std::make_unique<torch::optim::AdamW>(std::vector<at::Tensor>{theirs}, torch::optim::AdamWOptions(0.05).weight_decay(0.1));
            else
                ref = std::make_unique<torch::optim::Adam>(std::vector<at::Tensor>{theirs}, torch::optim::AdamOptions(0.05).weight_decay(0.1));
            for (int step = 0; step < 7; ++step) {
                (ours - target).pow(3).abs().sum().backward();
                opt.update();
                ref->zero_grad();
                (theirs - target).pow(3).abs().sum().backward();
                ref->step();
            }
            QVERIFY2(torch::allclose(ours, theirs, 1e-6, 1e-7), decoupled ? "AdamW" : "Adam");
            QVERIFY(!torch::allclose(ours, start));
        }
    }

    void publishedLossWeightsAndLosses() {
        // pos_weight_c = (1 - p_c) / p_c over the training split
        const at::Tensor t = torch::tensor({1.f, 0.f, 1.f, 1.f, 0.f, 0.f, 0.f, 0.f}).reshape({4, 2});  // p = 0.5, 0.25
        const at::Tensor pw = train::bcePosWeights(t, {"A", "B"});
        QVERIFY(torch::allclose(pw, torch::tensor({1.f, 3.f})));
        QVERIFY(test::errorOf([&] { train::bcePosWeights(torch::tensor({0.f, 0.f, 1.f, 0.f}).reshape({2, 2}), {"Bald", "Male"}); }).find("'Male' is never positive") !=
                std::string::npos);
        // balanced class weights n / (K n_k)
        QVERIFY(torch::allclose(train::balancedClassWeights({0, 0, 0, 1}, 2), torch::tensor({4.f / 6.f, 2.f})));
        QVERIFY(test::errorOf([] { train::balancedClassWeights({0, 0}, 2); }).find("class 1 has no training images") != std::string::npos);

        // BCE with pos_weight: -(pw y log s(z) + (1 - y) log(1 - s(z))), mean over all entries
        train::CnnTrainData bce;
        bce.loss = train::CnnLoss::MultiLabelBce;
        bce.lossWeights = pw;
        const at::Tensor z = torch::tensor({0.3f, -1.2f, 2.0f, 0.1f, -0.4f, 0.7f, 1.5f, -2.0f}).reshape({4, 2});
        double expect = 0;
        for (int i = 0; i < 4; ++i)
            for (int c = 0; c < 2; ++c) {
                const double zz = z[i][c].item<double>(), y = t[i][c].item<double>(), s = 1 / (1 + std::exp(-zz));
                expect -= pw[c].item<double>() * y * std::log(s) + (1 - y) * std::log(1 - s);
            }
        QVERIFY(std::abs(train::cnnLoss(bce, z, t).item<double>() - expect / 8) < 1e-6);
        // weighted cross-entropy: sum w_y (-log p_y) / sum w_y
        train::CnnTrainData ce;
        ce.loss = train::CnnLoss::WeightedCrossEntropy;
        ce.lossWeights = torch::tensor({0.5f, 2.f});
        const at::Tensor y = torch::tensor({0, 1, 1, 0}, torch::kInt64);
        double num = 0, den = 0;
        for (int i = 0; i < 4; ++i) {
            const double a = z[i][0].item<double>(), b = z[i][1].item<double>(), lse = std::log(std::exp(a) + std::exp(b));
            const int k = static_cast<int>(y[i].item<std::int64_t>());
            const double w = k == 0 ? 0.5 : 2.0;
            num += w * (lse - (k == 0 ? a : b));
            den += w;
        }
        QVERIFY(std::abs(train::cnnLoss(ce, z, y).item<double>() - num / den) < 1e-6);
    }

    void newHeadKeepsTheBackbone() {
        const auto base = test::tinyResNet(5, 1000);
        const auto m = model::cnnWithNewHead(base, 40, false, 9);
        QCOMPARE(m.numClasses, std::int64_t{40});
        QVERIFY(torch::equal(m.weights.at("layer4.0.conv2.weight"), base.weights.at("layer4.0.conv2.weight")));
        QVERIFY(std::abs(m.weights.at("fc.weight").abs().max().item<double>()) <= 1 / std::sqrt(16.0) + 1e-6);  // U(+-1/sqrt(in))
        const auto ext = model::cnnWithNewHead(base, 40, true, 9);  // the published extended head
        QVERIFY(ext.extendedHead);
        QCOMPARE(ext.weights.at("resnet.fc.weight").sizes().vec(), (std::vector<std::int64_t>{16, 16}));
        QCOMPARE(ext.weights.at("fc.weight").sizes().vec(), (std::vector<std::int64_t>{40, 16}));
        QVERIFY(torch::equal(ext.weights.at("resnet.layer1.0.conv1.weight"), base.weights.at("layer1.0.conv1.weight")));
        const auto ext2 = model::cnnWithNewHead(ext, 2, true, 1);  // extended -> extended: resnet.fc kept
        QVERIFY(torch::equal(ext2.weights.at("resnet.fc.weight"), ext.weights.at("resnet.fc.weight")));
        QCOMPARE(model::cnnLogits(ext2, torch::rand({1, 3, 32, 32})).size(1), std::int64_t{2});
        // the caller's model is untouched, and the same seed gives the same head
        QCOMPARE(base.numClasses, std::int64_t{1000});
        QVERIFY(torch::equal(model::cnnWithNewHead(base, 40, false, 9).weights.at("fc.weight"), m.weights.at("fc.weight")));
    }

    void celebTrainingSets() {
        // 400 images: A correlated with Male; a third attribute
        const fs::path root = dir() / "celeb";
        fs::create_directories(root / "CelebA-HQ-img");
        std::string csv = "filename Blond_Hair Male Smiling\n";
        std::mt19937 rng(4);
        for (int i = 0; i < 400; ++i) {
            const std::string f = std::to_string(i) + ".jpg";
            std::ofstream(root / "CelebA-HQ-img" / f) << "x";  // the training-set builder does not read pixels
            const bool male = rng() % 2, blond = (rng() % 100) < (male ? 10u : 45u), smile = rng() % 2;
            csv += f + (blond ? " 1" : " -1") + (male ? " 1" : " -1") + (smile ? " 1\n" : " -1\n");
        }
        std::ofstream(root / "CelebAMask-HQ-attribute-anno.csv") << csv;
        const auto d = data::loadCelebAMaskHQ(root.string());
        attention::AttentionTrainOptions o;
        auto all = attention::celebTrainingData(d, o);
        QCOMPARE(all.train.size(), std::size_t{280});
        QCOMPARE(all.trainTargets.sizes().vec(), (std::vector<std::int64_t>{280, 3}));
        QCOMPARE(all.outputNames, d.attributes.names);
        const at::Tensor p = all.trainTargets.mean(0);
        QVERIFY(torch::allclose(all.lossWeights, (1 - p) / p));

        o.oneSidedTarget = "Smiling";
        o.oneSidedKeep = "negative";
        const auto one = attention::celebTrainingData(d, o);
        QVERIFY(one.train.size() > 100 && one.train.size() < 180);
        QCOMPARE(one.trainTargets.select(1, 2).sum().item<double>(), 0.0);  // only Smiling = 0 kept
        QVERIFY(torch::equal(one.lossWeights, all.lossWeights));           // weights of the full split (published)
        QCOMPARE(one.val.size(), all.val.size());

        o.oneSidedTarget.clear();
        o.subgroupAttribute = "Blond_Hair";
        for (double target : {-0.2, 0.05}) {
            o.subgroupMcc = target;
            const auto sub = attention::celebTrainingData(d, o);
            std::vector<int> a, m;
            for (std::int64_t i = 0; i < sub.trainTargets.size(0); ++i)
                a.push_back(sub.trainTargets[i][0].item<float>() > 0.5f), m.push_back(sub.trainTargets[i][1].item<float>() > 0.5f);
            const double got = attention::mcc(a, m);
            QVERIFY2(std::abs(got - target) < 0.01, qPrintable(QString("target %1, subsample MCC %2").arg(target).arg(got)));
            QVERIFY(sub.train.size() < all.train.size());
            QVERIFY(sub.descriptionJson.find("achieved_mcc") != std::string::npos);
        }
        o.subgroupAttribute = "Wavy_Hair";
        QVERIFY(test::errorOf([&] { attention::celebTrainingData(d, o); }).find("Wavy_Hair") != std::string::npos);
    }

    void learnsResumesAndCancels() {
        const auto td = attention::waterbirdsTrainingData(data::loadWaterbirds(planted_.string()));
        QVERIFY(torch::allclose(td.lossWeights, torch::ones({2})));  // balanced classes
        const auto init = test::tinyResNet(7);
        auto options = [&](const std::string& name, int epochs) {
            train::CnnTrainOptions o;
            o.transform = train::attentionTrainTransform(32, true);
            o.batchSize = 16;
            o.epochs = epochs;
            o.workers = 2;
            o.seed = 11;
            o.outDir = (dir() / name).string();
            return o;
        };
        const auto a = train::trainCnn(init, td, options("four", 4));
        QCOMPARE(a.history.size(), std::size_t{4});
        QVERIFY2(a.history.back().trainLoss < 0.8 * a.history.front().trainLoss,
                 qPrintable(QString("train loss %1 -> %2").arg(a.history.front().trainLoss).arg(a.history.back().trainLoss)));
        const auto trained = model::loadCnnModel(a.modelPath);
        QCOMPARE(trained.labels, (std::vector<std::string>{"landbird", "waterbird"}));
        QVERIFY(!torch::equal(trained.weights.at("layer1.0.bn1.running_mean"), init.weights.at("layer1.0.bn1.running_mean")));  // BN trained
        QVERIFY(torch::equal(init.weights.at("fc.weight"), test::tinyResNet(7).weights.at("fc.weight")));  // the caller's model untouched

        // 2 epochs, a cancel inside epoch 3, then the rest: the same model as the uninterrupted run
        train::trainCnn(init, td, options("resumed", 2));
        std::atomic<bool> cancel{false};
        JobControl job;
        job.cancel = &cancel;
        train::TrainCallbacks cb;
        cb.onStep = [&](int epoch, int step, int, double, double) { cancel = epoch == 3 && step == 2; };
        bool cancelled = false;
        try {
            train::trainCnn(init, td, options("resumed", 4), job, cb);
        } catch (const Cancelled&) {
            cancelled = true;
        }
        QVERIFY(cancelled);
        QVERIFY(!fs::exists(dir() / "resumed/model.safetensors.partial"));
        const auto b = train::trainCnn(init, td, options("resumed", 4));
        QCOMPARE(b.resumedAfterEpoch, 2);
        for (std::size_t e = 0; e < 4; ++e) QCOMPARE(a.history[e].trainLoss, b.history[e].trainLoss);
        const auto ma = io::readSafetensors(a.modelPath), mb = io::readSafetensors(b.modelPath);
        QCOMPARE(ma.tensors.size(), mb.tensors.size());
        for (std::size_t i = 0; i < ma.tensors.size(); ++i) QVERIFY2(torch::equal(ma.tensors[i].second, mb.tensors[i].second), ma.tensors[i].first.c_str());

        // another run's folder is refused, naming the state file
        QVERIFY(test::errorOf([&] { train::trainCnn(test::tinyResNet(8), td, options("resumed", 4)); }).find("state.json") != std::string::npos);
        // a model whose output count does not match
        QVERIFY(test::errorOf([&] { train::trainCnn(test::tinyResNet(8, 3), td, options("x", 1)); }).find("3 outputs") != std::string::npos);
    }

    void trainsSeveralModelsAndSkipsFinishedOnes() {
        const fs::path initFile = dir() / "init.safetensors";
        model::saveCnnModel(test::tinyResNet(1, 10), initFile.string());
        attention::AttentionTrainOptions o;
        o.root = planted_.string();
        o.init = initFile.string();
        o.trainMultiple = 2;
        o.train.epochs = 1;
        o.train.batchSize = 32;
        o.train.workers = 2;
        o.train.transform.size = 32;
        o.outDir = (dir() / "multiple").string();
        const auto r = attention::trainAttentionModels(o);
        QCOMPARE(r.modelPaths.size(), std::size_t{2});
        QCOMPARE(r.runs.size(), std::size_t{2});
        const auto m0 = model::loadCnnModel(r.modelPaths[0]), m1 = model::loadCnnModel(r.modelPaths[1]);
        QCOMPARE(m0.numClasses, std::int64_t{2});
        QVERIFY(!torch::equal(m0.weights.at("fc.weight"), m1.weights.at("fc.weight")));  // seed + index
        o.trainMultiple = 3;  // the third is new, the first two are done
        const auto again = attention::trainAttentionModels(o);
        QCOMPARE(again.alreadyDone, 2);
        QCOMPARE(again.runs.size(), std::size_t{1});
        QVERIFY(fs::exists(fs::path(o.outDir) / "runs/waterbirds_resnet_2/result.json") || fs::exists(again.modelPaths[2]));
    }
};

BIASSCOPE_REGISTER_TEST(TestCnnTrainer)
#include "TestCnnTrainer.moc"
