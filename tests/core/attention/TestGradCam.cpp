// The study-2 CNNs and GradCAM against a golden computed in Python (tests/golden/make_gradcam_golden.py:
// own torchvision-layout modules, hooks as pytorch-grad-cam, numpy + cv2 scaling), the torchvision
// parameter counts of the real architectures, load errors, and the ViT token grid.
#include <QtTest/QtTest>
#include <filesystem>

#include <torch/types.h>

#include "TestRegistry.h"
#include "attention/AttentionStudy.h"
#include "attention/GradCam.h"
#include "attention/RelevanceMaps.h"
#include "io/Safetensors.h"
#include "model/CnnModel.h"
#include "model/RandomVit.h"
#include "model/VitForward.h"

using namespace biasscope;

namespace {
std::map<std::string, at::Tensor> golden() {
    std::map<std::string, at::Tensor> g;
    for (auto& [k, t] : io::readSafetensors(test::dataPath("gradcam/golden.safetensors")).tensors) g[k] = t;
    return g;
}
std::int64_t paramCount(const model::CnnModel& m) {
    std::int64_t n = 0;
    for (const auto& t : m.parameters()) n += t.numel();
    return n;
}
}  // namespace

class TestGradCam : public QObject {
    Q_OBJECT
private slots:
    void loadsTorchvisionLayouts() {
        const auto basic = model::loadCnnModel(test::dataPath("gradcam/resnet-basic.safetensors"));
        QCOMPARE(basic.stageBlocks, (std::vector<int>{1, 2, 1, 1}));
        QVERIFY(!basic.bottleneck && !basic.extendedHead);
        QCOMPARE(basic.featureChannels, std::int64_t{16});
        QCOMPARE(basic.numClasses, std::int64_t{3});
        const auto pth = model::loadCnnModel(test::dataPath("gradcam/resnet-basic.pth"));  // torch.save(state_dict), zip
        QCOMPARE(pth.weights.size(), basic.weights.size());
        for (const auto& [k, t] : basic.weights) QVERIFY2(torch::equal(t, pth.weights.at(k)), k.c_str());
        const auto ext = model::loadCnnModel(test::dataPath("gradcam/resnet-extended.safetensors"));
        QVERIFY(ext.extendedHead && ext.bottleneck);
        QCOMPARE(ext.featureChannels, std::int64_t{32});
        const auto eff = model::loadCnnModel(test::dataPath("gradcam/effnet.safetensors"));
        QVERIFY(eff.family == model::CnnFamily::EfficientNetV2);
        QCOMPARE(eff.stageBlocks, (std::vector<int>{1, 2, 1, 1, 2, 1}));
    }

    void realArchitecturesHaveTorchvisionSizes() {
        // torchvision's published parameter counts (1000 ImageNet classes) and state-dict sizes
        model::CnnSpec s;
        s.numClasses = 1000;
        s.arch = "resnet18";
        const auto r18 = model::makeRandomCnn(s);
        QCOMPARE(r18.arch, std::string("resnet18"));
        QCOMPARE(paramCount(r18), std::int64_t{11689512});
        QCOMPARE(r18.weights.size(), std::size_t{122});
        s.arch = "resnet50";
        const auto r50 = model::makeRandomCnn(s);
        QCOMPARE(r50.arch, std::string("resnet50"));
        QCOMPARE(paramCount(r50), std::int64_t{25557032});
        QCOMPARE(r50.weights.size(), std::size_t{320});
        QCOMPARE(r50.featureChannels, std::int64_t{2048});
        s.arch = "efficientnet_v2_s";
        const auto eff = model::makeRandomCnn(s);
        QCOMPARE(eff.arch, std::string("efficientnet_v2_s"));
        QCOMPARE(paramCount(eff), std::int64_t{21458488});
        QCOMPARE(eff.featureChannels, std::int64_t{1280});
        s.arch = "resnet50_extended";
        s.numClasses = 40;
        const auto ext = model::makeRandomCnn(s);
        QCOMPARE(ext.arch, std::string("resnet50_extended"));
        QCOMPARE(paramCount(ext), std::int64_t{25557032 - 1000 * 2049 + 2048 * 2049 + 40 * 2049});
        // a forward at the published resolution gives the published 7x7 GradCAM layer
        const at::Tensor x = torch::randn({1, 3, 224, 224});
        at::NoGradGuard ng;
        QCOMPARE(model::cnnFeatures(r18, x).sizes().vec(), (std::vector<std::int64_t>{1, 512, 7, 7}));
    }

    void logitsAndMapsMatchPythonGolden() {
        auto g = golden();
        const auto basic = model::loadCnnModel(test::dataPath("gradcam/resnet-basic.safetensors"));
        const at::Tensor x = g.at("input");
        {
            at::NoGradGuard ng;
            const QString d = test::compareTensors(model::cnnLogits(basic, x), g.at("basic_logits"), 1e-4, 1e-5);
            QVERIFY2(d.isEmpty(), qPrintable(d));
        }
        struct Case {
            const char* key;
            attention::CamTarget target;
            std::int64_t index;
        };
        for (const Case& c : {Case{"basic_abs1", attention::CamTarget::AbsLogit, 1}, Case{"basic_pos", attention::CamTarget::Logit, 0},
                              Case{"basic_pred", attention::CamTarget::PredictedClass, 0}}) {
            const auto r = attention::gradCam(basic, x, c.target, c.index);
            QCOMPARE(r.maps.sizes().vec(), (std::vector<std::int64_t>{2, 96, 80}));  // input size, non-square
            const QString d = test::compareTensors(r.maps, g.at(c.key), 0, 2e-4);
            QVERIFY2(d.isEmpty(), qPrintable(QString(c.key) + ": " + d));
            QVERIFY(r.maps.min().item<float>() >= 0 && r.maps.max().item<float>() <= 1);
        }
        const auto ext = model::loadCnnModel(test::dataPath("gradcam/resnet-extended.safetensors"));
        const auto re = attention::gradCam(ext, x, attention::CamTarget::AbsLogit, 2);
        QString d = test::compareTensors(re.logits, g.at("ext_logits"), 1e-4, 1e-5);
        QVERIFY2(d.isEmpty(), qPrintable("extended logits: " + d));
        d = test::compareTensors(re.maps, g.at("ext_abs2"), 0, 2e-4);
        QVERIFY2(d.isEmpty(), qPrintable("extended map: " + d));
        const auto eff = model::loadCnnModel(test::dataPath("gradcam/effnet.safetensors"));
        const auto rf = attention::gradCam(eff, g.at("input_eff"), attention::CamTarget::AbsLogit, 0);
        d = test::compareTensors(rf.logits, g.at("eff_logits"), 1e-4, 1e-5);
        QVERIFY2(d.isEmpty(), qPrintable("efficientnet logits: " + d));
        d = test::compareTensors(rf.maps, g.at("eff_abs0"), 0, 2e-4);
        QVERIFY2(d.isEmpty(), qPrintable("efficientnet map: " + d));
        // one image at a time gives the same maps (the published code breaks on a batch of one)
        const auto one = attention::gradCam(basic, x.narrow(0, 1, 1), attention::CamTarget::AbsLogit, 1);
        d = test::compareTensors(one.maps[0], g.at("basic_abs1")[1], 0, 2e-4);
        QVERIFY2(d.isEmpty(), qPrintable("batch of one: " + d));
    }

    void loadErrorsNameFileAndKey() {
        const std::string src = test::dataPath("gradcam/resnet-basic.safetensors");
        auto dict = model::readStateDict(src);
        auto expectError = [](const model::StateDict& d, const std::string& needle) {
            try {
                model::cnnFromStateDict(d, "bad.safetensors");
            } catch (const model::ModelLoadError& e) {
                const std::string what = e.what();
                QVERIFY2(what.find("bad.safetensors") != std::string::npos && what.find(needle) != std::string::npos, what.c_str());
                return;
            }
            QFAIL(("no error for " + needle).c_str());
        };
        auto missing = dict;
        missing.erase("layer2.1.bn2.running_var");
        expectError(missing, "layer2.1.bn2.running_var");
        auto shape = dict;
        shape["fc.weight"] = torch::zeros({3, 15});
        expectError(shape, "fc.weight");
        auto extra = dict;
        extra["layer9.0.conv1.bias"] = torch::zeros({2});
        expectError(extra, "layer9.0.conv1.bias");
        expectError({{"encoder.weight", torch::zeros({2})}}, "neither a ResNet");
        try {
            model::loadCnnModel(test::dataPath("gradcam/missing.pth"));
            QFAIL("missing file accepted");
        } catch (const model::ModelLoadError& e) {
            QVERIFY(std::string(e.what()).find("missing.pth") != std::string::npos);
        }
        // a training checkpoint {"epoch", "lr", "state_dict"} gives its state dict
        QCOMPARE(model::loadCnnModel(test::dataPath("gradcam/resnet-basic-checkpoint.pth")).weights.size(), dict.size());
        // a pickled module is refused, naming what it holds
        try {
            model::loadCnnModel(test::dataPath("gradcam/resnet-module.pth"));
            QFAIL("pickled module accepted");
        } catch (const model::ModelLoadError& e) {
            const std::string what = e.what();
            QVERIFY2(what.find("resnet-module.pth") != std::string::npos && what.find("ResNet") != std::string::npos &&
                         what.find("state_dict()") != std::string::npos,
                     what.c_str());
        }
        // a DataParallel "module." prefix is accepted
        model::StateDict wrapped;
        for (const auto& [k, t] : dict) wrapped["module." + k] = t;
        QCOMPARE(model::cnnFromStateDict(wrapped, "dp").numClasses, std::int64_t{3});
    }

    void saveLoadRoundTrip() {
        model::CnnSpec s;
        s.arch = "resnet";
        s.stageBlocks = {1, 1, 1, 1};
        s.stageWidths = {4, 8, 8, 8};
        s.numClasses = 2;
        auto m = model::makeRandomCnn(s);
        m.labels = {"landbird", "waterbird"};
        const std::string path = QDir::tempPath().toStdString() + "/biasscope-cnn-roundtrip.safetensors";
        model::saveCnnModel(m, path);
        const auto back = model::loadCnnModel(path);
        QCOMPARE(back.labels, m.labels);
        for (const auto& [k, t] : m.weights) QVERIFY2(torch::equal(t, back.weights.at(k)), k.c_str());
        std::filesystem::remove(path);
    }

    void tokenGridInference() {
        using attention::inferTokenGrid;
        auto eq = [](attention::TokenGrid g, std::int64_t p, std::int64_t r, std::int64_t c) { return g.prefix == p && g.rows == r && g.cols == c; };
        QVERIFY(eq(inferTokenGrid(197, 224, 224, 16), 1, 14, 14));  // ViT-B/16
        QVERIFY(eq(inferTokenGrid(50, 224, 224, 32), 1, 7, 7));     // ViT-B/32 (the study's vit_b32)
        QVERIFY(eq(inferTokenGrid(198, 224, 224, 16), 2, 14, 14));  // DeiT distilled: CLS + distillation token
        QVERIFY(eq(inferTokenGrid(261, 224, 224, 14), 5, 16, 16));  // DINOv2 with 4 registers
        QVERIFY(eq(inferTokenGrid(193, 192, 256, 16), 1, 12, 16));  // non-square image
        QVERIFY(eq(inferTokenGrid(577, 384, 384, 16), 1, 24, 24));
        QVERIFY(eq(inferTokenGrid(197), 1, 14, 14));                // from the count alone
        QVERIFY(eq(inferTokenGrid(196), 0, 14, 14));
        QVERIFY(eq(inferTokenGrid(65), 1, 8, 8));
        QVERIFY_EXCEPTION_THROWN(inferTokenGrid(300, 224, 224, 16), InputError);  // 300 < 196 + 9 is false: 104 prefix tokens
        QVERIFY_EXCEPTION_THROWN(inferTokenGrid(150, 224, 224, 16), InputError);  // fewer tokens than patches
        QVERIFY_EXCEPTION_THROWN(inferTokenGrid(47), InputError);  // 39..47: no square
        QVERIFY_EXCEPTION_THROWN(inferTokenGrid(197, 225, 224, 16), InputError);
    }

    void vitGradCamOnTokenGrid() {
        const auto vit = model::makeRandomVitModel(model::tinyVitConfig(3), {.seed = 4});
        const at::Tensor x = torch::randn({2, 3, 32, 32}, at::detail::createCPUGenerator(9));
        const auto r = attention::vitGradCam(vit, "", x, 0, attention::CamTarget::AbsLogit, 1);
        QCOMPARE(r.maps.sizes().vec(), (std::vector<std::int64_t>{2, 32, 32}));
        QCOMPARE(r.raw.sizes().vec(), (std::vector<std::int64_t>{2, 4, 4}));  // 32 / 8 patch grid, CLS dropped
        QVERIFY(r.warnings.empty());
        QVERIFY(r.maps.max().item<float>() > 0.99f);
        // the same map by hand: features = block-0 tokens on the grid, head = the rest of the forward
        // (checked through gradCamFromFeatures with an explicit token <-> grid reshape)
        const auto& bb = vit.backbone;
        at::Tensor tokens;
        {
            at::NoGradGuard ng;
            tokens = model::vitBlocks(bb, model::vitEmbed(bb, x), 0, 1);
        }
        const at::Tensor cls = tokens.narrow(1, 0, 1);
        const at::Tensor grid = tokens.narrow(1, 1, 16).reshape({2, 4, 4, 32}).permute({0, 3, 1, 2});
        const auto byHand = attention::gradCamFromFeatures(
            grid,
            [&](const at::Tensor& f) {
                const at::Tensor t = torch::cat({cls, f.permute({0, 2, 3, 1}).reshape({2, 16, 32})}, 1);
                return model::headLogits(vit.heads[0], model::vitPool(bb, model::vitBlocks(bb, t, 1, bb.blocks.size())));
            },
            attention::CamTarget::AbsLogit, 1, 32, 32);
        const QString d = test::compareTensors(r.maps, byHand.maps, 0, 1e-5);
        QVERIFY2(d.isEmpty(), qPrintable(d));
        // the last block's patch tokens never reach the CLS-token head: an all-zero map, with a warning
        const auto last = attention::vitGradCam(vit, "", x, -1, attention::CamTarget::AbsLogit, 1);
        QCOMPARE(last.warnings.size(), std::size_t{2});
        QVERIFY(last.warnings[0].message.find("all-zero") != std::string::npos);
        QCOMPARE(last.warnings[1].image, std::int64_t{1});
        QCOMPARE(last.maps.abs().sum().item<float>(), 0.f);
        QVERIFY_EXCEPTION_THROWN(attention::vitGradCam(vit, "", x, 5, attention::CamTarget::AbsLogit, 1), InputError);
        QVERIFY_EXCEPTION_THROWN(attention::vitGradCam(vit, "", x, 0, attention::CamTarget::AbsLogit, 7), InputError);
    }

    void lrpMapsAreTheEngineHeatmap() {
        const auto vit = model::makeRandomVitModel(model::tinyVitConfig(3), {.seed = 4});
        const at::Tensor x = torch::randn({3, 3, 32, 32}, at::detail::createCPUGenerator(5));
        for (auto rule : {explain::AttentionRule::AttnLRP, explain::AttentionRule::CP}) {
            const auto abs = attention::lrpMaps(vit, x, rule, attention::CamTarget::AbsLogit, 1);
            const auto signedMaps = attention::lrpMaps(vit, x, rule, attention::CamTarget::Logit, 1);
            QCOMPARE(abs.maps.sizes().vec(), (std::vector<std::int64_t>{3, 32, 32}));
            QCOMPARE(abs.explained, (std::vector<std::int64_t>{1, 1, 1}));
            QVERIFY(abs.maps.min().item<float>() >= 0 && abs.maps.max().item<float>() <= 1);
            for (std::int64_t b = 0; b < 3; ++b) {
                // raw = the engine's input heatmap of the explained logit
                explain::RelevanceOptions ro;
                ro.rule = rule;
                ro.sites.clear();
                const auto ref = explain::explainBatched(vit, x.narrow(0, b, 1), {explain::Target{0, 1}}, ro);
                const QString d = test::compareTensors(signedMaps.raw[b], ref.inputHeatmap[0], 0, 1e-6);
                QVERIFY2(d.isEmpty(), qPrintable(d));
                // |z|: LRP is linear in the output relevance, so the map of |z| is sign(z) times the map of z
                const float sign = abs.logits[b][1].item<float>() < 0 ? -1.f : 1.f;
                QVERIFY(torch::allclose(abs.raw[b], signedMaps.raw[b] * sign));
                // the map is the positive part, min-max scaled
                const at::Tensor pos = torch::relu(abs.raw[b]);
                const at::Tensor expect = (pos - pos.min()) / (pos.max() - pos.min());
                const QString dm = test::compareTensors(abs.maps[b], expect, 0, 1e-4);
                QVERIFY2(dm.isEmpty(), qPrintable(dm));
            }
        }
        // CNNs have no LRP maps here: the error names the file
        attention::AttentionRunOptions o;
        o.map = attention::MapKind::AttnLrp;
        o.root = test::dataPath("gradcam");
        QVERIFY_EXCEPTION_THROWN(attention::sampleMaps(o, test::dataPath("gradcam/resnet-basic.safetensors"), 0, 1), InputError);
    }
};

BIASSCOPE_REGISTER_TEST(TestGradCam)
#include "TestGradCam.moc"
