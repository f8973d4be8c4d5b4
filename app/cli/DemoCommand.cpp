// `biasscope-cli demo --out DIR [--bias 0.95]`: the built-in planted-bias demo, end to end: data,
// trained model and concept head, feathered test images, study run and analysis.
#include <filesystem>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "CliSupport.h"
#include "Commands.h"
#include "common/Device.h"
#include "io/AtomicFile.h"
#include "study/Demo.h"
#include "study/DemoChecks.h"
#include "study/StudyAnalysis.h"
#include "study/StudyRunner.h"

namespace biasscope::cli {

void addDemoCommand(CLI::App& app) {
    struct Args {
        study::DemoOptions o;
        bool noAnalysis = false, measure = false;
        std::string measureJson;
        int threads = 0;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("demo", "Build the planted-bias demo (data, trained ViT + concept head, feathering, study run and analysis); cached");
    cmd->add_option("--out", a->o.outDir, "demo folder")->required();
    cmd->add_option("--bias", a->o.bias, "P(background agrees with the class) in training: 0.5 none ... 1.0 full")->check(inRange(0, 1));
    cmd->add_option("--seed", a->o.seed, "seed of data, initialisation and training");
    cmd->add_option("--epochs", a->o.epochs, "training epochs of the class model")->check(inRange(1, 1000));
    cmd->add_option("--train-per-class", a->o.trainPerClass, "training images per class")->check(inRange(2, 100000));
    cmd->add_option("--plain-share", a->o.plainShare, "share of training images on a plain grey background (no place)")->check(inRange(0, 0.99));
    cmd->add_option("--colour-cue", a->o.colourCue, "pull of the object colour towards its class colour (0 none .. 1 fixed)")->check(inRange(0, 1));
    cmd->add_option("--threads", a->threads, "CPU threads (default: all)")->check(inRange(0, 1024));
    cmd->add_flag("--measure", a->measure, "print the planted-bias measures (confidence drop, relevance outside the object, concept similarity, Attention-IoU)");
    cmd->add_option("--measure-json", a->measureJson, "also write the measures to this JSON file");
    cmd->add_flag("--no-analysis", a->noAnalysis, "stop after the study file (no relevance run, no analysis)");
    cmd->callback([a]() {
        configureCpuThreads(a->threads);
        JobControl job;
        job.progress = progressPrinter(true);
        const auto p = study::buildDemo(a->o, job);
        endProgressLine();
        std::cout << "demo data " << p.dataDir << "\nclass model " << p.classModel << "\nconcept head " << p.placeModel << "\nstudy " << p.studyFile << "\n";
        if (a->measure || !a->measureJson.empty()) {
            const auto d = study::measureDemoCached(a->o.outDir);
            if (!a->measureJson.empty()) io::writeFileAtomically(a->measureJson, study::demoMeasuresJson(d).dump(2) + "\n");
            std::cout << "bias " << a->o.bias << ", " << d.images << " balanced test images\n"
                      << "  accuracy " << d.accuracy << " (context removed: " << d.accuracyMasked << ")\n"
                      << "  confidence in the true class " << d.confidence << " (context removed: " << d.confidenceMasked << ")\n"
                      << "    background as in training (" << d.alignedImages << " images) " << d.confidenceAligned << " (context removed: " << d.confidenceAlignedMasked
                      << "); the other background (" << d.conflictingImages << ") " << d.confidenceConflicting << " (context removed: " << d.confidenceConflictingMasked << ")\n"
                      << "    context effect on the confidence (aligned drop - conflicting drop) " << d.contextEffect() << "\n"
                      << "  share of |relevance| outside the object " << d.outsideRelevance << "\n"
                      << "  concept-head similarity to the class head " << d.conceptSimilarity << "\n"
                      << "  Attention-IoU (patch-grid relevance map) with the background " << d.iouBackground << ", with the object " << d.iouObject
                      << " (uniform map: " << 4 * d.backgroundFraction / (1 + 3 * d.backgroundFraction) << " / "
                      << 4 * (1 - d.backgroundFraction) / (1 + 3 * (1 - d.backgroundFraction)) << "; pixel-level map: " << d.iouBackgroundPixel << " / "
                      << d.iouObjectPixel << ")\n";
        }
        if (a->noAnalysis) return;
        const auto r = study::runDemoStudy(a->o, p, job);
        endProgressLine();
        std::cout << "relevance: " << r.computed << " computed, " << r.skipped << " already stored\n";
        for (const auto& w : r.warnings) std::cerr << "biasscope-cli: warning: " << w << "\n";
        std::cout << "analysis: " << r.storeDir << "/analysis\n";
    });
}

}  // namespace biasscope::cli
