#include "study/Demo.h"

#include "study/StudyAnalysis.h"
#include "study/StudyRunner.h"

#include <filesystem>

#include <ATen/Parallel.h>

#include <nlohmann/json.hpp>

#include "common/Error.h"
#include "data/Datasets.h"
#include "data/PlantedBias.h"
#include "io/AtomicFile.h"
#include "io/JsonFile.h"
#include "model/RandomVit.h"
#include "model/VitWeights.h"
#include "preprocess/Feathering.h"
#include "train/Trainer.h"

namespace biasscope::study {

namespace fs = std::filesystem;

model::VitConfig demoVitConfig() {
    model::VitConfig c = model::tinyVitConfig(2);
    c.imageSize = 64;
    c.patchSize = 8;
    c.hiddenSize = 64;
    c.numLayers = 4;
    c.numHeads = 4;
    c.intermediateSize = 128;
    return c;
}

DemoPaths buildDemo(const DemoOptions& o, const JobControl& job) {
    if (o.outDir.empty()) throw InputError("the demo needs an output folder");
    // One compute thread while the demo is made: the trained models depend on the floating-point
    // reduction order, and with one thread every machine makes the same demo (and docs/demo.md's numbers).
    struct ThreadsGuard {
        int saved = at::get_num_threads();
        ThreadsGuard() { at::set_num_threads(1); }
        ~ThreadsGuard() { at::set_num_threads(saved); }
    } threads;
    const fs::path root(o.outDir);
    DemoPaths p{(root / "data").string(), (root / "models/class/best").string(), (root / "models/place/best").string(), (root / "demo-study.json").string()};
    // 1. data (cached: regenerated only if the options changed)
    // everything that determines the demo's data and models: a change rebuilds both
    nlohmann::json dataKey{{"bias", o.bias}, {"seed", o.seed}, {"train_per_class", o.trainPerClass}, {"test_per_class", o.testPerClass},
                           {"colour_cue", o.colourCue}, {"plain_share", o.plainShare}, {"epochs", o.epochs}, {"version", 8}};
    const fs::path keyFile = root / "data/demo-data.json";
    bool haveData = false;
    if (fs::exists(keyFile)) {
        try {
            haveData = io::readJsonFile(keyFile.string(), "demo data key") == dataKey;
        } catch (const Error&) {
        }
    }
    if (!haveData) {
        job.report(0.0, "generating the planted-bias images");
        fs::remove_all(root);  // models and studies of other data are stale
        data::PlantedBiasOptions po;
        po.bias = o.bias;
        po.seed = o.seed;
        po.trainPerClass = o.trainPerClass;
        po.valPerClass = o.testPerClass;
        po.testPerClass = o.testPerClass;
        po.size = static_cast<int>(demoVitConfig().imageSize);
        po.plainShare = o.plainShare;
        po.colourCue = o.colourCue;
        data::writePlantedBiasDataset(p.dataDir, po);
        io::writeFileAtomically(keyFile.string(), dataKey.dump(2));
    }
    job.checkCancelled();
    // 2. the class model, trained from scratch (every weight), then the concept head on its frozen backbone
    auto progressFrom = [&](double lo, double hi) {
        JobControl j = job;
        j.progress = [&job, lo, hi](double f, const std::string& s) { job.report(lo + (hi - lo) * f, s); };
        return j;
    };
    if (!fs::exists(fs::path(p.classModel) / "model.safetensors") || !fs::exists(root / "models/class/result.json")) {
        train::TrainOptions t;
        t.mode = train::TrainMode::Full;
        t.outDir = (root / "models/class").string();
        t.epochs = o.epochs;
        t.patience = o.epochs;
        t.batchSize = 64;
        t.lr = 1e-3;
        t.workers = o.workers;
        t.seed = o.seed;
        t.transform.scaleMin = 0.8;
        train::trainClassifier(model::makeRandomVitModel(demoVitConfig(), {o.seed}), data::loadCsvDataset((fs::path(p.dataDir) / "class.csv").string(), o.seed), t,
                               progressFrom(0.05, 0.75));
    }
    if (!fs::exists(fs::path(p.placeModel) / "model.safetensors") || !fs::exists(root / "models/place/result.json")) {
        train::TrainOptions t;
        t.mode = train::TrainMode::Probe;
        t.outDir = (root / "models/place").string();
        t.epochs = 30;
        t.patience = 30;
        t.batchSize = 64;
        t.lr = 1e-2;
        t.workers = o.workers;
        t.seed = o.seed;
        train::trainClassifier(model::loadVitModel(p.classModel), data::loadCsvDataset((fs::path(p.dataDir) / "place.csv").string(), o.seed), t,
                               progressFrom(0.75, 0.85));
    }
    job.checkCancelled();
    // 3. context removed: the test objects feathered onto grey
    for (const char* c : data::kPlantedClasses) {
        const fs::path out = fs::path(p.dataDir) / "masked" / c;
        if (fs::exists(out) && !fs::is_empty(out)) continue;
        job.report(0.9, std::string("feathering the ") + c + " test images");
        preprocess::FeatheringOptions fo;
        fo.kernel = 7;  // 64 px images: a proportionally smaller kernel than the published 21 at full size
        fo.background = preprocess::FeatherBackground::Gray;  // neutral: neither place, and less far from the training images than white
        // with the generator's own masks (data/Raster's rule), not the COCO polygons through cv::fillPoly, whose
        // pixels differ between OpenCV versions
        const auto rep = preprocess::featherDirectory((fs::path(p.dataDir) / "test" / c).string(), "", (fs::path(p.dataDir) / c / "mask").string(), out.string(),
                                                      fo, progressFrom(0.85, 0.95));
        if (!rep.failures.empty()) throw Error(rep.failures.front().first + ": " + rep.failures.front().second);
    }
    // 4. the study file
    nlohmann::json s;
    s["name"] = "demo-planted-bias-" + std::to_string(static_cast<int>(o.bias * 100));
    s["heads"] = {{{"name", "class"}, {"path", "models/class/best"}}, {{"name", "place"}, {"path", "models/place/best"}}};
    s["targets"] = {{{"name", "land"}, {"head", "place"}, {"class", 0}},
                    {{"name", "water"}, {"head", "place"}, {"class", 1}},
                    {{"name", "class_circle"}, {"head", "class"}, {"class", 0}},
                    {{"name", "class_triangle"}, {"head", "class"}, {"class", 1}}};
    s["image_sets"] = {{{"name", "circle"}, {"folder", "data/test/circle"}, {"condition", "unmasked"}, {"reference_target", "class_circle"}},
                       {{"name", "triangle"}, {"folder", "data/test/triangle"}, {"condition", "unmasked"}, {"reference_target", "class_triangle"}},
                       {{"name", "masked_circle"}, {"folder", "data/masked/circle"}, {"condition", "masked"}, {"reference_target", "class_circle"}},
                       {{"name", "masked_triangle"}, {"folder", "data/masked/triangle"}, {"condition", "masked"}, {"reference_target", "class_triangle"}}};
    s["sites"] = {"intermediate", "final"};
    s["rule"] = "cp";
    s["readout"] = "relevance";
    s["analysis"] = {{"confidence_threshold", 0.5}, {"top_k", 5}};
    s["demo"] = {{"bias", o.bias}, {"seed", o.seed}, {"note", "planted-bias benchmark generated by BiasScope; class = object shape, place = background"}};
    io::writeFileAtomically(p.studyFile, s.dump(2));
    job.report(1.0, "demo ready");
    return p;
}

DemoStudy runDemoStudy(const DemoOptions& o, const DemoPaths& p, const JobControl& job) {
    DemoStudy d;
    StudyRunOptions ro;
    ro.outDir = (fs::path(o.outDir) / "store").string();
    JobControl runJob = job;
    runJob.progress = [&job](double f, const std::string& s) { job.report(0.9 * f, "relevance: " + s); };
    const auto r = runStudy(readStudyDefinition(p.studyFile), ro, runJob);
    d.computed = r.computed;
    d.skipped = r.skipped;
    job.report(0.92, "analysis (consistency, similarity, t-tests)");
    const auto an = analyzeStudy(ro.outDir, (fs::path(ro.outDir) / "analysis").string(), {}, job);
    d.warnings = an.warnings;
    d.storeDir = ro.outDir;
    job.report(1.0, "demo study ready");
    return d;
}

}  // namespace biasscope::study
