// The batched engine against PyTorch goldens, against the autograd reference (one pass per target),
// and the conservation identities of CP-LRP.
#include <QtTest/QtTest>
#include <atomic>

#include <torch/types.h>

#include "TestRegistry.h"
#include "explain/RelevanceEngine.h"
#include "io/Safetensors.h"
#include "model/RandomVit.h"
#include "model/VitWeights.h"

using namespace biasscope;
using namespace biasscope::explain;
using test::dataPath;

namespace {

const std::vector<Site> kAllSites{Site::Intermediate, Site::Final, Site::LnBefore, Site::LnAfter, Site::Attention};

std::map<std::string, at::Tensor> goldens() {
    static std::map<std::string, at::Tensor> g = [] {
        std::map<std::string, at::Tensor> m;
        for (auto& [k, v] : io::readSafetensors(dataPath("golden.safetensors")).tensors) m[k] = v;
        return m;
    }();
    return g;
}

model::VitConfig mediumConfig() {
    model::VitConfig c = model::tinyVitConfig(7);
    c.hiddenSize = 48;
    c.numHeads = 3;
    c.intermediateSize = 96;
    c.numLayers = 3;
    c.imageSize = 48;
    c.patchSize = 12;
    return c;
}

// zero linear biases, LayerNorm betas, CLS token and position embedding: nothing absorbs relevance
model::VitModel withoutBiasTerms() {
    model::RandomVitOptions ro;
    ro.biasStd = 0.0;
    ro.weightStd = 0.2;
    auto model = model::makeRandomVitModel(mediumConfig(), ro);
    model.backbone.clsToken.zero_();
    model.backbone.positionEmbeddings.zero_();
    return model;
}

double cosine(const at::Tensor& a, const at::Tensor& b) {
    const at::Tensor x = a.flatten().to(torch::kFloat64), y = b.flatten().to(torch::kFloat64);
    return (x.dot(y) / (x.norm() * y.norm())).item<double>();
}

}  // namespace

class TestRelevanceEngine : public QObject {
    Q_OBJECT
private slots:
    void init() { torch::manual_seed(5); }

    void matchesPyTorchGoldens_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("cp") << "cp";
        QTest::newRow("attnlrp") << "attnlrp";
        QTest::newRow("cp_gamma") << "cp_gamma";
    }
    void matchesPyTorchGoldens() {
        QFETCH(QString, name);
        const auto g = goldens();
        const auto model = model::loadVitModel(dataPath("tiny-vit"));
        RelevanceOptions opt;
        opt.rule = name == "attnlrp" ? AttentionRule::AttnLRP : AttentionRule::CP;
        opt.gamma = {name == "cp_gamma", 0.25, 0.05};
        opt.sites = kAllSites;
        const std::vector<Target> targets{{0, 0}, {0, 3}};
        const auto rel = explainBatched(model, g.at("pixels"), targets, opt);
        opt.readout = Readout::Gradient;
        const auto grad = explainBatched(model, g.at("pixels"), targets, opt);
        for (std::size_t t = 0; t < targets.size(); ++t) {
            const std::string p = name.toStdString() + "/" + std::to_string(targets[t].classIndex) + "/";
            const auto ti = static_cast<std::int64_t>(t);
            BIASSCOPE_COMPARE_TENSORS(rel.inputHeatmap[ti], g.at(p + "input"), 2e-4, 1e-7);
            for (const auto& s : rel.sites) {
                BIASSCOPE_COMPARE_TENSORS(s.perNeuron[ti], g.at(p + toString(s.site)), 2e-4, 1e-7);
                BIASSCOPE_COMPARE_TENSORS(s.perToken[ti], g.at(p + toString(s.site) + "_tokens"), 2e-4, 1e-7);
            }
            for (const auto& s : grad.sites) BIASSCOPE_COMPARE_TENSORS(s.perNeuron[ti], g.at(p + toString(s.site) + "_grad"), 2e-4, 1e-7);
        }
    }

    void batchedEqualsOnePassPerTarget_data() {
        QTest::addColumn<int>("rule");
        QTest::newRow("cp") << int(AttentionRule::CP);
        QTest::newRow("attnlrp") << int(AttentionRule::AttnLRP);
    }
    void batchedEqualsOnePassPerTarget() {
        QFETCH(int, rule);
        model::RandomVitOptions ro;
        ro.weightStd = 0.2;
        const auto model = model::makeRandomVitModel(mediumConfig(), ro);
        const at::Tensor x = torch::randn({1, 3, 48, 48});
        RelevanceOptions opt;
        opt.rule = static_cast<AttentionRule>(rule);
        opt.sites = kAllSites;
        const std::vector<Target> targets{{0, 1}, {0, 6}, {0, 2}, {0, 1}};
        const auto a = explainBatched(model, x, targets, opt);
        const auto b = explainWithAutograd(model, x, targets, opt);
        BIASSCOPE_COMPARE_TENSORS(a.inputHeatmap, b.inputHeatmap, 1e-4, 1e-8);
        for (std::size_t s = 0; s < a.sites.size(); ++s) {
            BIASSCOPE_COMPARE_TENSORS(a.sites[s].perNeuron, b.sites[s].perNeuron, 1e-4, 1e-8);
            BIASSCOPE_COMPARE_TENSORS(a.sites[s].perToken, b.sites[s].perToken, 1e-4, 1e-8);
        }
        BIASSCOPE_COMPARE_TENSORS(a.biasRelevance, b.biasRelevance, 1e-4, 1e-6);
        BIASSCOPE_COMPARE_TENSORS(a.positionRelevance, b.positionRelevance, 1e-4, 1e-6);
        // chunking the targets changes nothing
        opt.maxTargetsPerPass = 1;
        const auto c = explainBatched(model, x, targets, opt);
        BIASSCOPE_COMPARE_TENSORS(c.inputHeatmap, a.inputHeatmap, 1e-6, 1e-9);
    }

    void cpWithZeroBiasesConservesTheLogitAtInputAndEveryBlockOutput() {
        const auto model = withoutBiasTerms();
        const at::Tensor x = torch::randn({1, 3, 48, 48});
        RelevanceOptions opt;
        const auto r = explainBatched(model, x, {{0, 0}, {0, 4}}, opt);
        for (std::int64_t t = 0; t < 2; ++t) {
            const double logit = r.targetLogit[t].item<double>();
            const double pixels = r.inputHeatmap[t].sum().item<double>();
            QVERIFY2(std::abs(pixels - logit) < 1e-4 * std::abs(logit), qPrintable(QString("input %1 vs logit %2").arg(pixels).arg(logit)));
            const at::Tensor perLayer = r.site(Site::Final)->perToken[t].sum(-1);
            for (std::int64_t l = 0; l < perLayer.size(0); ++l) {
                const double v = perLayer[l].item<double>();
                QVERIFY2(std::abs(v - logit) < 1e-4 * std::abs(logit), qPrintable(QString("block %1: %2 vs logit %3").arg(l).arg(v).arg(logit)));
            }
        }
    }

    void cpFullAccountingWithBiases() {
        model::RandomVitOptions ro;
        ro.weightStd = 0.2;
        ro.biasStd = 0.1;
        const auto model = model::makeRandomVitModel(mediumConfig(), ro);
        const auto r = explainBatched(model, torch::randn({1, 3, 48, 48}), {{0, 0}, {0, 3}, {0, 5}}, RelevanceOptions{});
        const at::Tensor total = r.pixelRelevance + r.clsRelevance + r.positionRelevance + r.biasRelevance;
        BIASSCOPE_COMPARE_TENSORS(total, r.targetLogit, 1e-4, 1e-6);
        QVERIFY(r.biasRelevance.abs().max().item<double>() > 1e-3);  // the biases really absorb something
    }

    void attnLrpDiffersFromCpAndLeaksAtTheSoftmax() {
        const auto model = withoutBiasTerms();
        const at::Tensor x = torch::randn({1, 3, 48, 48});
        RelevanceOptions cp, attn;
        attn.rule = AttentionRule::AttnLRP;
        const auto a = explainBatched(model, x, {{0, 2}}, cp), b = explainBatched(model, x, {{0, 2}}, attn);
        const double c = cosine(a.inputHeatmap, b.inputHeatmap);
        QVERIFY2(c < 0.9999 && c > 0.3, qPrintable(QString("cosine %1").arg(c)));
        const double logit = b.targetLogit[0].item<double>();
        QVERIFY(std::abs(b.inputHeatmap.sum().item<double>() - logit) > 1e-3 * std::abs(logit));
    }

    void badInputsAreRejectedWithReasons() {
        const auto model = model::loadVitModel(dataPath("tiny-vit"));
        auto expectError = [&](const at::Tensor& x, std::vector<Target> t, const char* needle) {
            try {
                explainBatched(model, x, t, RelevanceOptions{});
                QFAIL("no error");
            } catch (const InputError& e) {
                QVERIFY2(std::string(e.what()).find(needle) != std::string::npos, e.what());
            }
        };
        expectError(torch::zeros({1, 3, 31, 32}), {{0, 0}}, "[1, 3, 32, 32]");
        at::Tensor nan = torch::zeros({1, 3, 32, 32});
        nan.index_put_({0, 0, 0, 0}, std::nan(""));
        expectError(nan, {{0, 0}}, "NaN");
        expectError(torch::zeros({1, 3, 32, 32}), {{0, 9}}, "outside head");
        expectError(torch::zeros({1, 3, 32, 32}), {}, "no target");
    }

    void cancellationStopsTheJob() {
        const auto model = model::loadVitModel(dataPath("tiny-vit"));
        std::atomic<bool> cancel{true};
        JobControl job;
        job.cancel = &cancel;
        QVERIFY_EXCEPTION_THROWN(explainBatched(model, torch::zeros({1, 3, 32, 32}), {{0, 0}}, RelevanceOptions{}, job), Cancelled);
    }
};

BIASSCOPE_REGISTER_TEST(TestRelevanceEngine)
#include "TestRelevanceEngine.moc"
