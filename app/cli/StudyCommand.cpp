// `biasscope-cli study run STUDY.json --out DIR [--shard I/N] [--device ...]`
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>

#include "CliSupport.h"
#include "Commands.h"
#include "StudyFigures.h"
#include "common/Device.h"
#include "common/Error.h"
#include "study/PublishedImport.h"
#include "study/StudyAnalysis.h"
#include "study/StudyMerge.h"
#include "study/StudyRunner.h"

namespace biasscope::cli {

void addStudyCommand(CLI::App& app) {
    CLI::App* study = app.add_subcommand("study", "Run a study (relevance of every image x target into a resumable store)");
    study->require_subcommand(1);
    struct Args {
        std::string file, out, shard = "0/1", device = "auto";
        int threads = 0;
    };
    auto a = std::make_shared<Args>();
    CLI::App* run = study->add_subcommand("run", "Compute and store relevance; images already stored with the same model and parameters are skipped");
    run->add_option("study", a->file, "study file (JSON, docs/study-format.md)")->required();
    run->add_option("--out", a->out, "study output folder (store)")->required();
    run->add_option("--shard", a->shard, "I/N: this machine computes images i with i mod N == I (Slurm: $SLURM_ARRAY_TASK_ID/N)");
    run->add_option("--device", a->device, "auto, cpu or cuda[:N]");
    run->add_option("--threads", a->threads, "CPU threads (default: all)")->check(inRange(0, 1024));
    run->callback([a]() {
        configureCpuThreads(a->threads);
        study::StudyRunOptions o;
        {  // I/N, two plain integers, 0 <= I < N <= 100000
            const auto slash = a->shard.find('/');
            auto digits = [](const std::string& t) { return !t.empty() && t.size() <= 6 && t.find_first_not_of("0123456789") == std::string::npos; };
            const std::string i = slash == std::string::npos ? "" : a->shard.substr(0, slash), n = slash == std::string::npos ? "" : a->shard.substr(slash + 1);
            if (!digits(i) || !digits(n) || std::stoi(n) < 1 || std::stoi(n) > 100000 || std::stoi(i) >= std::stoi(n))
                throw InputError("--shard " + a->shard + ": expected I/N with 0 <= I < N <= 100000, e.g. 0/4");
            o.shardIndex = std::stoi(i);
            o.shardCount = std::stoi(n);
        }
        o.outDir = a->out;
        o.device = resolveDevice(a->device);
        const auto s = study::readStudyDefinition(a->file);
        JobControl job;
        job.progress = progressPrinter(false);
        const auto r = study::runStudy(s, o, job);
        endProgressLine();
        for (const auto& [f, why] : r.failures) std::cerr << "biasscope-cli: error: " << f << ": " << why << "\n";
        std::cout << "study '" << s.name << "': " << r.computed << " computed, " << r.skipped << " already stored, " << r.otherShards
                  << " left to other shards, " << r.failures.size() << " failed -> " << a->out << "\n";
        if (!r.failures.empty()) throw Error(std::to_string(r.failures.size()) + " image(s) failed (listed above); the others are stored");
    });

    struct ImportArgs {
        std::string input, out;
        std::vector<std::string> sources;
    };
    auto c = std::make_shared<ImportArgs>();
    CLI::App* imp = study->add_subcommand("import-published", "Turn the published pipeline's vit_relevance/ folder into a study store (top-k and confidence)");
    imp->add_option("vit_relevance", c->input, "the published vit_relevance/ folder (<set>/scores.json, <set>/<image>/top5_*.json)")->required();
    imp->add_option("--out", c->out, "study store to write")->required();
    imp->callback([c]() {
        const auto r = study::importPublished(c->input, c->out);
        std::cout << "imported " << r.images << " images in " << r.sets << " sets -> " << c->out << " (analyse with `biasscope-cli study analyze " << c->out
                  << "`; consistency and top-k only: the published run kept no full relevance vectors)\n";
    });
    CLI::App* merge = study->add_subcommand("merge", "Union of study stores computed apart (e.g. shards on machines without a shared disk)");
    merge->add_option("sources", c->sources, "source stores")->required();
    merge->add_option("--out", c->out, "destination store (may already hold records)")->required();
    merge->callback([c]() {
        const auto r = study::mergeStores(c->sources, c->out);
        std::cout << "merged into " << c->out << ": " << r.copied << " records copied, " << r.identical << " identical already there, " << r.equivalent
                  << " equivalent (same image, model and parameters; existing kept)\n";
    });

    struct AnalyzeArgs {
        std::string store, out;
        double threshold = -1;
        int topK = -1;
        bool signedRank = false;
        int resamples = 10000;
        std::uint64_t seed = 20261207;
        double ciLevel = 0.95;
        std::string neuronTests = "reference";
        std::vector<double> sweepThresholds{0.5, 0.6, 0.7, 0.8, 0.9, 0.95};
        std::vector<int> sweepK{1, 3, 5, 10, 20};
        bool noSweeps = false;
        std::vector<std::string> formats{"png", "pdf", "svg"};
        int dpi = 300;
        std::string significance = "hide";
    };
    auto b = std::make_shared<AnalyzeArgs>();
    CLI::App* an = study->add_subcommand("analyze", "Consistency, similarity and t-tests (BH as published) of a study store, as CSV tables");
    an->add_option("store", b->store, "the folder `study run --out` wrote")->required();
    an->add_option("--out", b->out, "output folder (default: <store>/analysis)");
    an->add_option("--threshold", b->threshold, "confidence threshold (default: the study's; published 0.9, robustness run 0.5)")->check(inRange(0, 1));
    an->add_option("--top-k", b->topK, "gender-sensitive neurons per layer (default: the study's; published 5, sensitivity run 10)")->check(inRange(1, 10000));
    an->add_option("--format", b->formats, "figure formats: png, tif, pdf, svg (repeatable)")->check(CLI::IsMember({"png", "pdf", "svg", "tif", "tiff"}));
    an->add_option("--dpi", b->dpi, "raster resolution of the figures")->check(inRange(36, 2400));
    an->add_option("--significance", b->significance, "non-significant similarity cells: hide (published), fade, or outline the significant ones")
        ->check(CLI::IsMember({"hide", "fade", "outline"}));
    an->add_flag("--signed", b->signedRank, "rank neurons by signed value instead of |value| (published: |value|)");
    an->add_option("--bootstrap", b->resamples, "bootstrap resamples for the CIs of consistency, similarity means and effect sizes (0: none)")
        ->check(inRange(0, 1000000));
    an->add_option("--seed", b->seed, "seed of the bootstrap resamples");
    an->add_option("--ci-level", b->ciLevel, "confidence level of the bootstrap intervals")->check(inRange(0.5, 0.999));
    an->add_option("--neuron-tests", b->neuronTests,
                   "per-neuron tests (neuron_tests.csv): each label vs the set's reference target, every pair of labels, or none")
        ->check(CLI::IsMember({"reference", "labels", "none"}));
    an->add_option("--sweep-thresholds", b->sweepThresholds, "confidence thresholds of the robustness sweep (the study's is always one)")
        ->check(inRange(0, 1))
        ->delimiter(',');
    an->add_option("--sweep-k", b->sweepK, "top-k values of the robustness sweep (the study's is always one)")->check(inRange(1, 10000))->delimiter(',');
    an->add_flag("--no-sweeps", b->noSweeps, "skip sweep_consistency.csv and sweep_tests.csv");
    an->callback([b]() {
        study::AnalysisOptions o;
        o.threshold = b->threshold;
        o.topK = b->topK;
        o.rankBy = b->signedRank ? analysis::RankBy::Signed : analysis::RankBy::Magnitude;
        o.bootstrap = {b->resamples, b->seed, b->ciLevel};
        o.neuronTests = b->neuronTests == "labels" ? study::NeuronComparisons::Labels
                        : b->neuronTests == "none" ? study::NeuronComparisons::None
                                                   : study::NeuronComparisons::Reference;
        o.sweepThresholds = b->sweepThresholds;
        o.sweepTopK = b->sweepK;
        o.sweeps = !b->noSweeps;
        const std::string out = b->out.empty() ? (std::filesystem::path(b->store) / "analysis").string() : b->out;
        const auto r = study::analyzeStudy(b->store, out, o);
        for (const auto& w : r.warnings) std::cerr << "biasscope-cli: warning: " << w << "\n";
        for (const auto& f : r.written) std::cout << "wrote " << f << "\n";
        ConsistencyFigureRequest req;
        req.outDir = out;
        req.formats = b->formats;
        req.dpi = b->dpi;
        req.threshold = r.threshold;
        req.provenance["store"] = std::filesystem::absolute(b->store).string();
        req.provenance["top_k"] = o.topK >= 1 ? std::to_string(o.topK) : "study default";
        for (const auto& [set, sites] : r.consistencyCi)  // BCa where defined, else the percentile interval
            for (const auto& [site, cis] : sites) {
                auto& iv = req.intervals[set][site];
                for (const auto& ci : cis) {
                    const bool bca = std::isfinite(ci.bca.low) && std::isfinite(ci.bca.high);
                    iv.first.push_back(bca ? ci.bca.low : ci.percentile.low);
                    iv.second.push_back(bca ? ci.bca.high : ci.percentile.high);
                }
            }
        if (!r.consistencyCi.empty()) {
            req.intervalNote = std::to_string(static_cast<int>(std::lround(o.bootstrap.confidence * 100))) + "\xc2\xa0% bootstrap CI over images (BCa, " +
                               std::to_string(o.bootstrap.resamples) + " resamples, seed " + std::to_string(o.bootstrap.seed) + ")";
            req.provenance["bootstrap"] = req.intervalNote;
        }
        renderConsistencyFigures(r.setsByCondition, r.consistency, r.passingImages, req);
        std::map<std::string, std::map<std::string, SimilarityFigureInput>> sim;
        for (const auto& [set, sites] : r.similarity)
            for (const auto& [site, cells] : sites) {
                SimilarityFigureInput in;
                in.labels = r.labels;
                for (const auto& c : cells) in.layers = std::max(in.layers, c.layer + 1);
                in.mean.assign(r.labels.size() * static_cast<std::size_t>(in.layers), std::nan(""));
                in.sem = in.mean;
                in.significant.assign(in.mean.size(), false);
                for (const auto& c : cells) {  // cells come label-major, in label order
                    const std::size_t i = static_cast<std::size_t>(&c - &cells.front());
                    in.mean[i] = c.mean;
                    in.sem[i] = c.sem;
                    in.significant[i] = c.significant;
                }
                sim[set][site] = std::move(in);
            }
        renderSimilarityFigures(sim, b->significance, req);
    });
}

}  // namespace biasscope::cli
