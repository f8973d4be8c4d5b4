// A small end-to-end study on a tiny ViT and generated images: it runs, resumes after an interrupted
// run with identical results, and 1 shard gives the same store as 2 merged shards.
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>

#include <torch/types.h>

#include "TestFixtures.h"
#include "TestRegistry.h"
#include "data/SyntheticImage.h"
#include "io/ImageIO.h"
#include "io/Safetensors.h"
#include "io/Csv.h"
#include "study/NeuronTestTable.h"
#include "study/StudyAnalysis.h"
#include "study/StudyMerge.h"
#include "study/StudyRunner.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {

// study folder with a 2-class "gender" head sharing the tiny ViT's backbone and two sets of images
std::string makeStudy(const fs::path& root) {
    return test::writeTinyStudy(root, test::dataPath("tiny-vit"), {{"male", "unmasked"}, {"female", "unmasked"}}, 3, 40, 36);
}

std::map<std::string, at::Tensor> storeContents(const fs::path& out) {
    std::map<std::string, at::Tensor> all;
    for (const auto& e : fs::recursive_directory_iterator(out / "relevance"))
        if (e.path().extension() == ".safetensors")
            for (auto& [k, v] : io::readSafetensors(e.path().string()).tensors) all[fs::relative(e.path(), out).string() + ":" + k] = v;
    return all;
}

void expectSameStore(const fs::path& a, const fs::path& b) {
    const auto x = storeContents(a), y = storeContents(b);
    QCOMPARE(x.size(), y.size());
    for (const auto& [k, v] : x) {
        QVERIFY2(y.count(k), k.c_str());
        QVERIFY2(torch::equal(v, y.at(k)), k.c_str());
    }
}

}  // namespace

class TestStudyRun : public QObject {
    Q_OBJECT
private slots:
    void runsResumesAndShards() {
        QTemporaryDir tmp;
        const fs::path root(tmp.path().toStdString());
        const auto study = study::readStudyDefinition(makeStudy(root));
        QCOMPARE(study.heads[1].path, (root / "models/gender.safetensors").string());

        // uninterrupted reference run
        study::StudyRunOptions full{(root / "full").string(), 0, 1};
        const auto r = study::runStudy(study, full);
        QCOMPARE(r.computed, 6);
        QVERIFY(r.failures.empty());
        const auto rec = io::readSafetensors(study::storedImagePath(full.outDir, "male", (root / "male/male0.png").string()));
        QCOMPARE(rec.metadata.at("readout"), std::string("gradient"));
        std::map<std::string, at::Tensor> m(rec.tensors.begin(), rec.tensors.end());
        QCOMPARE(m.at("a/intermediate").sizes().vec(), (std::vector<std::int64_t>{2, 64}));
        QCOMPARE(m.at("logits/gender").size(0), std::int64_t(2));
        const double conf = m.at("confidence").item<double>();
        QVERIFY(std::abs(conf - torch::softmax(m.at("logits/gender").to(torch::kFloat64), 0)[1].item<double>()) < 1e-6);

        // a second run skips everything
        QCOMPARE(study::runStudy(study, full).skipped, 6);

        // interrupted after two images, then resumed: same store as the uninterrupted run
        study::StudyRunOptions resumed{(root / "resumed").string(), 0, 1};
        std::atomic<bool> cancel{false};
        JobControl job;
        job.cancel = &cancel;
        int seen = 0;
        job.progress = [&](double, const std::string&) {
            if (++seen == 2) cancel = true;
        };
        QVERIFY_EXCEPTION_THROWN(study::runStudy(study, resumed, job), Cancelled);
        const auto again = study::runStudy(study, resumed);
        QCOMPARE(again.skipped, 2);
        QCOMPARE(again.computed, 4);
        expectSameStore(full.outDir, resumed.outDir);

        // two shards into one store equal one run
        study::StudyRunOptions s0{(root / "sharded").string(), 0, 2}, s1{(root / "sharded").string(), 1, 2};
        const auto a = study::runStudy(study, s0), b = study::runStudy(study, s1);
        QCOMPARE(a.computed + b.computed, 6);
        QCOMPARE(a.otherShards, 3);
        expectSameStore(full.outDir, s0.outDir);

        // two shards on machines without a shared disk, then `study merge`: the same store again
        study::StudyRunOptions m0{(root / "machine0").string(), 0, 2}, m1{(root / "machine1").string(), 1, 2};
        study::runStudy(study, m0);
        study::runStudy(study, m1);
        const auto mr = study::mergeStores({m0.outDir, m1.outDir}, (root / "merged").string());
        QCOMPARE(mr.copied, 6);
        expectSameStore(full.outDir, root / "merged");
        const auto again2 = study::mergeStores({m0.outDir, full.outDir}, (root / "merged").string());  // re-merge: nothing new
        QCOMPARE(again2.copied, 0);
        QCOMPARE(again2.identical, 9);
        QVERIFY(fs::exists(root / "merged/study.json"));

        // analysis: every table, the published test counts, and identical tables from the sharded store
        study::AnalysisOptions ao;
        ao.threshold = 0.0;  // random tiny models: let every image pass
        const auto rep = study::analyzeStudy(full.outDir, (root / "analysis").string(), ao);
        QVERIFY(rep.written.size() >= 8);
        auto lines = [](const fs::path& p, const std::string& prefix) {
            std::ifstream in(p);
            int n = 0;
            for (std::string l; std::getline(in, l);) n += l.rfind(prefix, 0) == 0;
            return n;
        };
        QCOMPARE(lines(root / "analysis/ttests.csv", "paired,"), 8);       // 2 sets x 2 sites x 1 pair x 2 layers
        QCOMPARE(lines(root / "analysis/ttests.csv", "independent,"), 8);  // 1 condition x 2 sites x 2 labels x 2 layers
        QCOMPARE(lines(root / "analysis/similarity.csv", "male,"), 8);     // 2 sites x 2 labels x 2 layers
        QCOMPARE(lines(root / "analysis/consistency.csv", "female,"), 4);  // 2 sites x 2 layers
        QCOMPARE(lines(root / "analysis/ttests.csv", "paired_per_image,"), 8);       // the same families, one value per image
        QCOMPARE(lines(root / "analysis/ttests.csv", "independent_per_image,"), 8);
        // every table is well-formed CSV (one field count, quoted where needed)
        for (const auto& e : fs::recursive_directory_iterator(root / "analysis"))
            if (e.path().extension() == ".csv") {
                std::ifstream in(e.path());
                const std::string text((std::istreambuf_iterator<char>(in)), {});
                QVERIFY2(io::parseCsv(text, e.path().string()).size() >= 1, e.path().c_str());
            }
        {  // per-neuron tests: 2 sets x 2 sites x 2 labels vs the reference, 1 condition x 2 sites x 3 targets
            const auto fams = study::readNeuronTests((root / "analysis/neuron_tests.safetensors").string());
            std::set<std::string> families;
            for (const auto& f : fams) {
                families.insert(f.key());
                QVERIFY(f.n1 >= 2 && f.n2 >= 2);
                QCOMPARE(f.layers, 2);
                QCOMPARE(f.p.size(), static_cast<std::size_t>(f.layers * f.neurons));
            }
            QCOMPARE(static_cast<int>(families.size()), 14);
            QVERIFY(families.count("independent · " + study.sets[0].condition + " · final · reference (" + study.sets[0].referenceTarget + " / " +
                                   study.sets[1].referenceTarget + ")"));
        }
        {  // where each logit went: one row per image x target (2 labels + the set's reference), conserved by CP-LRP without Gamma
            std::ifstream in(root / "analysis/conservation.csv");
            const auto rows = io::parseCsv(std::string((std::istreambuf_iterator<char>(in)), {}), "conservation.csv");
            QCOMPARE(rows.size(), std::size_t{1 + 6 * 3});
            QCOMPARE(rows[0].back(), std::string("relative_gap"));
            for (std::size_t r = 1; r < rows.size(); ++r) {
                const double logit = std::stod(rows[r][3]), sum = std::stod(rows[r][4]) + std::stod(rows[r][5]) + std::stod(rows[r][6]) + std::stod(rows[r][7]);
                QVERIFY2(std::fabs(logit - sum) <= 1e-4 * std::max(1.0, std::fabs(logit)), rows[r][1].c_str());
                QVERIFY(std::stod(rows[r][9]) < 1e-3);
            }
            for (const auto& w : rep.warnings) QVERIFY2(w.find("conservation") == std::string::npos, w.c_str());
        }
        QVERIFY(lines(root / "analysis/sweep_consistency.csv", "confidence_threshold,0,") > 0);  // the study's own threshold is a point
        QVERIFY(lines(root / "analysis/sweep_tests.csv", "top_k,") > 0);
        study::analyzeStudy(s0.outDir, (root / "analysis-sharded").string(), ao);
        for (const char* f : {"ttests.csv", "similarity.csv", "consistency.csv", "confidence.csv", "conservation.csv", "neuron_tests.safetensors", "neuron_tests_significant.csv", "sweep_consistency.csv", "sweep_tests.csv"}) {
            std::ifstream a(root / "analysis" / f), b(root / "analysis-sharded" / f);
            const std::string x((std::istreambuf_iterator<char>(a)), {}), y((std::istreambuf_iterator<char>(b)), {});
            QVERIFY2(x == y, f);
        }

        // a changed parameter invalidates the stored records
        auto changed = study;
        changed.relevance.readout = explain::Readout::Relevance;
        QCOMPARE(study::runStudy(changed, full).computed, 6);
        // a store of other parameters does not merge; the destination is untouched
        try {
            study::mergeStores({m0.outDir, full.outDir}, (root / "merged2").string());
            QFAIL("merged records of different parameters");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("other parameters") != std::string::npos, e.what());
        }
        QVERIFY(!fs::exists(root / "merged2/relevance"));
    }

    void badStudyFilesAreNamed() {
        QTemporaryDir tmp;
        const std::string p = tmp.filePath("s.json").toStdString();
        std::ofstream(p) << R"({"heads": [{"name": "h", "path": "x"}], "targets": [{"name": "t", "head": "nope", "class": 0}],
                                "image_sets": [{"name": "s", "folder": "f", "reference_target": "t"}]})";
        try {
            study::readStudyDefinition(p);
            QFAIL("accepted a target with an unknown head");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("unknown head 'nope'") != std::string::npos, e.what());
        }
    }
};

BIASSCOPE_REGISTER_TEST(TestStudyRun)
#include "TestStudyRun.moc"
