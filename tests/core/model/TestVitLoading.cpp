// Loading the same weights from an HF directory, a .safetensors file and a .pth gives identical
// logits (equal to the PyTorch golden); each malformed checkpoint gives its named error.
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>

#include <torch/types.h>

#include "TestRegistry.h"
#include "explain/RelevanceEngine.h"
#include "io/Safetensors.h"
#include "io/TorchSave.h"
#include "model/RandomVit.h"
#include "model/VitWeights.h"

using namespace biasscope;
using test::dataPath;
namespace fs = std::filesystem;
using Kind = model::ModelLoadError::Kind;

namespace {

at::Tensor golden(const std::string& name) {
    for (auto& [k, v] : io::readSafetensors(dataPath("golden.safetensors")).tensors)
        if (k == name) return v;
    throw std::runtime_error("golden tensor missing: " + name);
}

at::Tensor logitsOf(const model::VitModel& m) { return explain::vitLogits(m, golden("pixels"))[0][0]; }

Kind loadKind(const std::string& path, const std::optional<std::string>& config, std::string* message = nullptr) {
    try {
        model::loadVitModel(path, config);
    } catch (const model::ModelLoadError& e) {
        if (message) *message = e.what();
        return e.kind();
    }
    throw std::runtime_error("no error raised for " + path);
}

}  // namespace

class TestVitLoading : public QObject {
    Q_OBJECT
private slots:
    void threeFormatsGiveIdenticalLogitsEqualToPyTorch() {
        const auto dir = model::loadVitModel(dataPath("tiny-vit"));
        const auto file = model::loadVitModel(dataPath("tiny-vit/model.safetensors"));  // config.json beside it
        const auto pth = model::loadVitModel(dataPath("tiny-vit.pth"), dataPath("tiny-vit/config.json"));
        QCOMPARE(dir.heads[0].labels[3], std::string("label_3"));
        const at::Tensor a = logitsOf(dir), b = logitsOf(file), c = logitsOf(pth);
        QVERIFY(torch::equal(a, b));
        QVERIFY(torch::equal(a, c));
        BIASSCOPE_COMPARE_TENSORS(a, golden("logits"), 1e-5, 1e-5);
        QVERIFY(!dir.heads[0].sourceSha256.empty());
    }

    void pthWithoutConfigInfersGeometry() {
        QTemporaryDir tmp;
        const std::string p = tmp.filePath("vit_gender_cls_single.pth").toStdString();
        fs::copy_file(dataPath("tiny-vit.pth"), p);
        const auto m = model::loadVitModel(p);
        QVERIFY(m.configInferred);
        QCOMPARE(m.backbone.config.numLayers, std::int64_t(2));
        QCOMPARE(m.backbone.config.imageSize, std::int64_t(32));
        QCOMPARE(m.backbone.config.numLabels, std::int64_t(5));
        // heads = hidden/64 would be wrong for this toy (hidden 32 -> 1 head vs 4): logits differ, which is why we warn
        QCOMPARE(m.backbone.config.numHeads, std::int64_t(1));
    }

    void halfPrecisionWeightsAreAccepted() {
        QTemporaryDir tmp;
        auto sd = io::readSafetensors(dataPath("tiny-vit/model.safetensors")).tensors;
        for (auto& [k, v] : sd) v = v.to(torch::kBFloat16);
        const std::string p = tmp.filePath("bf16.safetensors").toStdString();
        io::writeSafetensors(p, sd);
        const auto m = model::loadVitModel(p, dataPath("tiny-vit/config.json"));
        BIASSCOPE_COMPARE_TENSORS(logitsOf(m), golden("logits"), 0.05, 0.05);
    }

    void malformedCheckpointsNameTheProblem() {
        QTemporaryDir tmp;
        const std::string cfg = dataPath("tiny-vit/config.json");
        auto base = io::readSafetensors(dataPath("tiny-vit/model.safetensors")).tensors;
        auto write = [&](const std::string& name, std::vector<std::pair<std::string, at::Tensor>> t) {
            const std::string p = tmp.filePath(QString::fromStdString(name)).toStdString();
            io::writeSafetensors(p, t);
            return p;
        };
        std::string msg;
        auto missing = base;
        missing.erase(std::remove_if(missing.begin(), missing.end(), [](auto& p) { return p.first == "vit.encoder.layer.1.output.dense.bias"; }),
                      missing.end());
        QCOMPARE(loadKind(write("missing.safetensors", missing), cfg, &msg), Kind::MissingKey);
        QVERIFY2(msg.find("vit.encoder.layer.1.output.dense.bias") != std::string::npos, msg.c_str());

        auto extra = base;
        extra.emplace_back("decoder.weight", torch::zeros({2}));
        QCOMPARE(loadKind(write("extra.safetensors", extra), cfg, &msg), Kind::UnexpectedKey);
        QVERIFY2(msg.find("decoder.weight") != std::string::npos, msg.c_str());

        auto shape = base;
        for (auto& [k, v] : shape)
            if (k == "vit.encoder.layer.0.intermediate.dense.weight") v = torch::zeros({65, 32});
        QCOMPARE(loadKind(write("shape.safetensors", shape), cfg, &msg), Kind::ShapeMismatch);
        QVERIFY2(msg.find("[65, 32]") != std::string::npos && msg.find("[64, 32]") != std::string::npos, msg.c_str());

        auto dtype = base;
        for (auto& [k, v] : dtype)
            if (k == "vit.layernorm.bias") v = v.to(torch::kInt64);
        QCOMPARE(loadKind(write("dtype.safetensors", dtype), cfg, &msg), Kind::UnsupportedDType);
        QVERIFY2(msg.find("vit.layernorm.bias") != std::string::npos, msg.c_str());

        const std::string trunc = tmp.filePath("trunc.pth").toStdString();
        fs::copy_file(dataPath("tiny-vit.pth"), trunc);
        fs::resize_file(trunc, fs::file_size(trunc) / 2);
        QCOMPARE(loadKind(trunc, cfg, &msg), Kind::Unreadable);
        QVERIFY2(msg.find("trunc.pth") != std::string::npos, msg.c_str());

        const std::string junk = tmp.filePath("junk.bin").toStdString();
        std::ofstream(junk) << "this is not a model";
        QCOMPARE(loadKind(junk, cfg), Kind::Unreadable);
        QCOMPARE(loadKind(tmp.filePath("absent.safetensors").toStdString(), cfg), Kind::Unreadable);
    }

    // Found by fuzz_torch_pth (docs/benchmarks.md): tensor views that the pickle describes wrongly. Made by
    // torch.save itself (tests/data/torch-corrupt); each must be refused naming the file, not read past
    // its vectors (sizes and strides of different lengths overran the stride vector) or its storage.
    void corruptTensorViewsInPthAreRefused() {
        const std::pair<const char*, const char*> cases[] = {
            {"stride-shorter-than-size.pth", "sizes and strides of different lengths"},
            {"negative-stride.pth", "not a whole number >= 0"},
            {"negative-offset.pth", "offset"},
            {"extent-overflow.pth", "exceeds its storage"},
            {"view-past-storage.pth", "exceeds its storage"},
            {"self-reference.pth", "is not a tensor"},
        };
        for (const auto& [file, expected] : cases) {
            const std::string path = dataPath(std::string("torch-corrupt/") + file);
            try {
                io::readTorchSaveStateDict(path);
                QFAIL(file);
            } catch (const io::TorchSaveError& e) {
                const std::string m = e.what();
                QVERIFY2(m.find(path) != std::string::npos && m.find(expected) != std::string::npos, m.c_str());
            }
        }
    }

    void headsShareTheBackboneOnlyWhenItIsIdentical() {
        QTemporaryDir tmp;
        auto base = io::readSafetensors(dataPath("tiny-vit/model.safetensors")).tensors;
        auto gender = base;
        for (auto& [k, v] : gender) {
            if (k == "classifier.weight") v = torch::randn({2, 32});
            if (k == "classifier.bias") v = torch::zeros({2});
        }
        const std::string gpath = tmp.filePath("gender.safetensors").toStdString();
        io::writeSafetensors(gpath, gender);
        auto m = model::loadVitModel(dataPath("tiny-vit"), std::nullopt, "imagenet");
        model::addHeadFrom(m, gpath, dataPath("tiny-vit/config.json"), "gender");
        QCOMPARE(m.heads.size(), std::size_t(2));
        QCOMPARE(m.head("gender").linear.weight.size(0), std::int64_t(2));
        const auto logits = explain::vitLogits(m, golden("pixels"));
        QCOMPARE(logits.size(), std::size_t(2));
        BIASSCOPE_COMPARE_TENSORS(logits[0][0], golden("logits"), 1e-5, 1e-5);

        auto other = gender;
        for (auto& [k, v] : other)
            if (k == "vit.layernorm.weight") v = v + 1.0;
        const std::string opath = tmp.filePath("other.safetensors").toStdString();
        io::writeSafetensors(opath, other);
        try {
            model::addHeadFrom(m, opath, dataPath("tiny-vit/config.json"), "other");
            QFAIL("a head with a different backbone was accepted");
        } catch (const model::ModelLoadError& e) {
            QCOMPARE(e.kind(), Kind::BackboneMismatch);
        }
    }

    void savedDirectoryRoundTrips() {
        QTemporaryDir tmp;
        const auto m = model::makeRandomVitModel(model::tinyVitConfig(3), {});
        model::saveHuggingFaceDirectory(m, tmp.filePath("m").toStdString());
        const auto back = model::loadVitModel(tmp.filePath("m").toStdString());
        const at::Tensor x = torch::randn({2, 3, 32, 32});
        QVERIFY(torch::equal(explain::vitLogits(m, x)[0], explain::vitLogits(back, x)[0]));
        QCOMPARE(back.heads[0].labels, m.heads[0].labels);
    }

    void badConfigIsReported() {
        try {
            model::VitConfig::fromJsonText(R"({"hidden_size": 30, "num_attention_heads": 4})", "cfg.json");
            QFAIL("inconsistent config accepted");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("cfg.json") != std::string::npos);
        }
    }
};

BIASSCOPE_REGISTER_TEST(TestVitLoading)
#include "TestVitLoading.moc"
