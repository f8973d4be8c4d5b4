// `biasscope-cli aiou ...`: study 2 (Attention-IoU). Subcommands:
//   train     train the study's CNNs: CelebA multi-label BCE (all 40 attributes; one-sided;
//             MCC-subsampled) or Waterbirds class-weighted cross-entropy, K models (resumable);
//   score     GradCAM maps of every model on a data set's split, mask or heatmap scores, per-model
//             tables and mean +- population std over models in the published CSV layout (resumable);
//   evaluate  predictions (published evaluations-*.csv layout), accuracy, group accuracies, worst
//             group and, for CelebA, MCC(pred A, pred Male);
//   subsample the MCC-subsampling solver: counts for a target MCC, or the whole sweep plan;
//   maps      GradCAM / LRP maps of some images of a split, with masks, as safetensors.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "CliSupport.h"
#include "Commands.h"
#include "StudyFigures.h"
#include "attention/AttentionStudy.h"
#include "attention/AttentionTraining.h"
#include "attention/Subsampling.h"
#include "common/Device.h"
#include "data/AttentionData.h"
#include "data/PlantedBias.h"
#include "io/Safetensors.h"
#include "model/CnnModel.h"

namespace biasscope::cli {

namespace {

void addDataOptions(CLI::App* cmd, attention::AttentionRunOptions& o) {
    cmd->add_option("--dataset", o.dataset, "waterbirds | celeba (CelebAMask-HQ layout)")->check(CLI::IsMember({"waterbirds", "celeba"}));
    cmd->add_option("--root", o.root, "data folder (Waterbirds: metadata.csv; CelebAMask-HQ: CelebA-HQ-img/, CelebAMask-HQ-mask/, attribute file)")->required();
    cmd->add_option("--model", o.models, "model weights: .safetensors / .pth state dicts of ResNet / EfficientNetV2, or ViT checkpoints; one per trained model")
        ->required();
    cmd->add_option("--attribute", o.attribute, "CelebA: the attribute A whose map is scored");
    cmd->add_option("--confounder", o.confounder, "CelebA: the protected attribute (grouping, heatmap score)");
    cmd->add_option("--split", o.split, "train | val | test (published: test; val for the MCC sweep)");
    cmd->add_option("--size", o.size, "input size (published 224)")->check(inRange(16, 4096));
    cmd->add_option("--batch-size", o.batchSize, "images per forward pass")->check(inRange(1, 4096));
    CLI::Option* layer = cmd->add_option("--vit-layer", o.vitLayer, "ViT models: the block GradCAM explains (negative counts from the end; default -2, or -1 with --vit-site ln1)")
                             ->check(inRange(-64, 63));
    cmd->add_option_function<std::string>(
           "--vit-site",
           [&o, layer](const std::string& s) {
               o.vitSite = attention::parseVitCamSite(s);
               if (o.vitSite == attention::VitCamSite::Norm1 && layer->count() == 0) o.vitLayer = -1;  // the published code's layer
           },
           "ViT models: output (the block's output tokens, default) | ln1 (its first LayerNorm's output: the published code's encoder.layers[-1].ln_1)")
        ->check(CLI::IsMember({"output", "ln1"}));
    cmd->add_option("--out", o.outDir, "output folder")->required();
}

JobControl progressJob() {
    JobControl job;
    job.progress = progressPrinter(true);
    return job;
}

}  // namespace

void addAiouCommand(CLI::App& app) {
    CLI::App* aiou = app.add_subcommand("aiou", "Study 2: Attention-IoU of GradCAM maps with masks and with the protected attribute's map");
    aiou->require_subcommand(1);

    struct TrainArgs {
        attention::AttentionTrainOptions o;
        std::string device = "auto";
        int threads = 0;
        bool publishedFlip = false;
        double subgroupMcc = 0;
    };
    auto ta = std::make_shared<TrainArgs>();
    CLI::App* tr = aiou->add_subcommand("train", "train the study's CNNs (Adam 1e-3, weight decay 1e-4, 10 epochs, last model kept), K models, resumable");
    tr->add_option("--dataset", ta->o.dataset, "waterbirds (class-weighted cross-entropy) | celeba (40-attribute BCE with pos_weight)")
        ->check(CLI::IsMember({"waterbirds", "celeba"}));
    tr->add_option("--root", ta->o.root, "data folder (as for score)")->required();
    tr->add_option("--arch", ta->o.arch, "resnet18 | resnet50 | resnet50_extended | efficientnet_v2_s | resnet | efficientnet_v2 (with --init: resnet50_extended adds the extended head)")
        ->check(CLI::IsMember({"resnet18", "resnet50", "resnet50_extended", "efficientnet_v2_s", "resnet", "efficientnet_v2"}));
    tr->add_option("--stage-blocks", ta->o.stageBlocks, "random init of --arch resnet (4 values) / efficientnet_v2 (6): blocks per stage");
    tr->add_option("--stage-widths", ta->o.stageWidths, "random init of --arch resnet (4 widths) / efficientnet_v2 (stem, 6 stages, head)");
    tr->add_option("--init", ta->o.init, "starting weights, e.g. torchvision ImageNet weights (.pth / .safetensors); the classifier is replaced");
    tr->add_option("--train-multiple", ta->o.trainMultiple, "number of models (published: 20 CelebA, 20 per Waterbirds bias)")->check(inRange(1, 1000));
    tr->add_option("--first-index", ta->o.firstIndex, "index of the first model (seed = --seed + index)")->check(inRange(0, 100000));
    tr->add_option("--epochs", ta->o.train.epochs, "epochs (published 10)")->check(inRange(1, 10000));
    tr->add_option("--batch-size", ta->o.train.batchSize, "batch size (published 64; the CelebA README uses 32)")->check(inRange(1, 4096));
    tr->add_option("--lr", ta->o.train.lr, "Adam learning rate")->check(inOpenRange(0, 10, true));
    tr->add_option("--weight-decay", ta->o.train.weightDecay, "Adam weight decay (L2)")->check(inRange(0, 10));
    tr->add_option("--size", ta->o.train.transform.size, "input size")->check(inRange(16, 4096));
    tr->add_option("--seed", ta->o.train.seed, "base seed (head init, order, augmentation, dropout)");
    tr->add_option("--workers", ta->o.train.workers, "loader threads")->check(inRange(0, 256));
    tr->add_option("--threads", ta->threads, "compute threads (default: all)")->check(inRange(0, 1024));
    tr->add_option("--device", ta->device, "auto, cpu or cuda[:N]");
    tr->add_flag("--published-flip", ta->publishedFlip, "no horizontal flip, as the published transform (its flip is a no-op)");
    tr->add_option("--one-sided-target", ta->o.oneSidedTarget, "CelebA: attribute of one-sided training");
    tr->add_option("--one-sided-keep", ta->o.oneSidedKeep, "positive | negative: the training images kept")->check(CLI::IsMember({"positive", "negative"}));
    tr->add_option("--subgroup-attribute", ta->o.subgroupAttribute, "CelebA: attribute A of MCC-subsampled training");
    tr->add_option("--subgroup-confounder", ta->o.subgroupConfounder, "CelebA: the confounder (Male)");
    auto* mccOpt = tr->add_option("--subgroup-mcc", ta->subgroupMcc, "target MCC(A, confounder) of the kept training set (scores then use --split val)")->check(inOpenRange(-1, 1));
    tr->add_option("--subsample-seed", ta->o.subsampleSeed, "seed of the subgroup member draw");
    tr->add_option("--out", ta->o.outDir, "output folder: <dataset>_<arch>_<i>.safetensors, runs/<name>/ (resume state, metrics, result.json)")->required();
    tr->callback([ta, mccOpt]() {
        configureCpuThreads(ta->threads);
        auto& o = ta->o;
        o.train.device = resolveDevice(ta->device);
        o.flip = !ta->publishedFlip;
        if (mccOpt->count()) {
            if (o.subgroupAttribute.empty()) throw InputError("--subgroup-mcc needs --subgroup-attribute");
            o.subgroupMcc = ta->subgroupMcc;
        }
        if (o.init.empty()) std::cerr << "biasscope-cli: note: no --init; models start from a random initialisation (published: ImageNet weights)\n";
        train::TrainCallbacks cb;
        cb.onEpoch = [](const train::EpochMetrics& e) {
            endProgressLine();
            std::cout << std::fixed << std::setprecision(4) << "epoch " << e.epoch << ": train loss " << e.trainLoss << " acc " << e.trainAcc << ", val loss "
                      << e.valLoss << " acc " << e.valAcc << " (" << std::setprecision(1) << e.seconds << " s, " << e.imagesPerSecond << " img/s)\n"
                      << std::defaultfloat << std::flush;
        };
        std::cout << "training on " << describeDevice(o.train.device) << "\n";
        const auto r = attention::trainAttentionModels(o, progressJob(), cb);
        endProgressLine();
        std::cout << "data: " << r.dataDescription << "\n";
        if (r.alreadyDone) std::cout << r.alreadyDone << " model(s) were already trained\n";
        for (const auto& p : r.modelPaths) std::cout << "model " << p << "\n";
    });

    auto so = std::make_shared<attention::AttentionRunOptions>();
    auto scoreKind = std::make_shared<std::string>("mask");
    auto threads = std::make_shared<int>(0);
    CLI::App* score = aiou->add_subcommand("score", "mask / heatmap scores over models: per-model tables, mean +- population std (published CSV layout)");
    addDataOptions(score, *so);
    score->add_option("--score", *scoreKind, "mask (map vs every mask column) | heatmap (map of A vs map of the confounder)")->check(CLI::IsMember({"mask", "heatmap"}));
    auto mapKind = std::make_shared<std::string>("gradcam");
    score->add_option("--map", *mapKind, "gradcam (published) | attnlrp | cp-lrp (LRP input heatmaps; ViT models)")->check(CLI::IsMember({"gradcam", "attnlrp", "cp-lrp"}));
    score->add_flag("--positive-scores", so->positiveScores, "CelebA: explain z_t instead of |z_t| (published flag)");
    score->add_option("--threads", *threads, "CPU threads (default: all)")->check(inRange(0, 1024));
    score->callback([so, scoreKind, threads, mapKind]() {
        configureCpuThreads(*threads);
        so->map = attention::parseMapKind(*mapKind);
        so->score = *scoreKind == "mask" ? attention::ScoreKind::Mask : attention::ScoreKind::Heatmap;
        const auto r = attention::runAttentionScores(*so, progressJob());
        endProgressLine();
        for (const auto& w : r.warnings) std::cerr << "biasscope-cli: warning: " << w << "\n";
        std::cout << r.images << " images x " << r.modelNames.size() << " models (" << r.resumedModels << " resumed)\n";
        std::cout << "group";
        for (const auto& c : r.columnNames) std::cout << "\t" << c;
        std::cout << "\n";
        for (std::size_t g = 0; g < r.rowNames.size(); ++g) {
            std::cout << r.rowNames[g];
            for (std::size_t c = 0; c < r.columnNames.size(); ++c) std::cout << "\t" << r.aggregate.mean[g][c] << " +- " << r.aggregate.std[g][c];
            std::cout << "\n";
        }
        if (!r.uniformBaseline.empty()) {
            std::cout << "uniform map (all)";
            for (double v : r.uniformBaseline.back()) std::cout << "\t" << v;
            std::cout << "\n";
        }
        std::cout << "wrote " << r.csvPath << "\n      " << r.sidecarPath << "\n";
        if (!r.localisationCsvPath.empty()) std::cout << "      " << r.localisationCsvPath << " (mass accuracy, rank accuracy, AUC; not published)\n";
    });

    auto eo = std::make_shared<attention::AttentionRunOptions>();
    CLI::App* eval = aiou->add_subcommand("evaluate", "predictions and accuracy, group / worst-group accuracy, MCC(pred A, pred confounder)");
    addDataOptions(eval, *eo);
    eval->callback([eo]() {
        configureCpuThreads(0);
        const auto r = attention::runEvaluation(*eo, progressJob());
        endProgressLine();
        for (std::size_t i = 0; i < r.metricNames.size(); ++i) std::cout << r.metricNames[i] << "\t" << r.mean[i] << " +- " << r.std[i] << "\n";
        std::cout << "wrote " << r.jsonPath << "\n";
    });

    struct SubArgs {
        std::vector<double> counts;
        double target = 0, planFrom = 0, total = 0;
        bool plan = false;
    };
    auto sa = std::make_shared<SubArgs>();
    CLI::App* sub = aiou->add_subcommand("subsample", "MCC-subsampling: subgroup counts (A,M) = (0,0) (0,1) (1,0) (1,1) for a target MCC");
    sub->add_option("--counts", sa->counts, "available training counts of the four (A, M) subgroups")->expected(4)->required()->check(inRange(0, 1e9));
    sub->add_option("--target", sa->target, "target MCC (smooth walk from the current MCC, as published)")->check(inOpenRange(-1, 1));
    sub->add_option("--total", sa->total, "fixed number of training images (0: free)")->check(inRange(0, 1e9));
    sub->add_option("--plan", sa->planFrom, "print the sweep plan around this MCC (run_subgroups.py: +-0.2 in 0.01 steps, one set size)")->check(inOpenRange(-1, 1));
    sub->callback([sa, sub]() {
        attention::Counts c{sa->counts[0], sa->counts[1], sa->counts[2], sa->counts[3]};
        nlohmann::json j;
        j["available"] = sa->counts;
        j["available_mcc"] = attention::mccFromCounts(c.data());
        if (sub->count("--plan")) {
            const auto p = attention::planSweep(sa->planFrom, c);
            j["lo"] = p.lo;
            j["hi"] = p.hi;
            j["set_size"] = p.setSize;
            nlohmann::json rows = nlohmann::json::array();
            for (double m : p.targets) {
                const auto x = attention::solveSubgroupsSmooth(m, c, p.setSize).counts;
                rows.push_back({{"target", m}, {"counts", x}, {"mcc", attention::mccFromCounts(x.data())}});
            }
            j["sweep"] = rows;
        } else {
            std::optional<double> total;
            if (sa->total > 0) total = sa->total;
            const auto path = attention::solveSubgroupsSmooth(sa->target, c, total);
            j["target"] = sa->target;
            j["counts"] = path.counts;
            j["mcc"] = attention::mccFromCounts(path.counts.data());
            j["steps"] = path.mccs.size();
        }
        std::cout << j.dump(2) << "\n";
    });

    struct FigureArgs {
        std::vector<std::string> results;
        std::string kind = "bars", stem;
        ConsistencyFigureRequest request;
    };
    auto fa = std::make_shared<FigureArgs>();
    CLI::App* fig = aiou->add_subcommand("figure", "the study's figures from finished score runs: mask-score bars, Waterbirds score vs bias, heatmap scatter");
    fig->add_option("--result", fa->results, "score sidecar(s) (<out>/Masks-...json / Heatmap-...json), one per run")->required()->check(CLI::ExistingFile);
    fig->add_option("--kind", fa->kind, "bars | bias | scatter")->check(CLI::IsMember({"bars", "bias", "scatter"}));
    fig->add_option("--out", fa->request.outDir, "output folder")->required();
    fig->add_option("--name", fa->stem, "file name without extension (default: attention-<kind>)");
    fig->add_option("--format", fa->request.formats, "png, pdf, svg, tif")->check(CLI::IsMember({"png", "pdf", "svg", "tif", "tiff"}));
    fig->add_option("--dpi", fa->request.dpi, "raster resolution")->check(inRange(36, 2400));
    fig->add_option("--width", fa->request.width, "inches (3.5 one column, 7 two columns)")->check(inRange(1, 40));
    fig->add_option("--height", fa->request.height, "inches")->check(inRange(1, 40));
    fig->callback([fa]() {
        checkFigureSize(fa->request.width, fa->request.height, fa->request.dpi);
        renderAttentionFigure(fa->results, fa->kind, fa->stem.empty() ? "attention-" + fa->kind : fa->stem, fa->request);
    });

    auto po = std::make_shared<data::PlantedBiasOptions>();
    auto pout = std::make_shared<std::string>();
    CLI::App* make = aiou->add_subcommand("make-data", "write the planted-bias benchmark (Waterbirds layout with exact masks) at a chosen bias");
    make->add_option("--out", *pout, "output folder")->required();
    make->add_option("--bias", po->bias, "P(place agrees with the class) in training: 0.5 none ... 1.0 full")->check(inRange(0, 1));
    make->add_option("--train-per-class", po->trainPerClass, "training images per class")->check(inRange(1, 1000000));
    make->add_option("--val-per-class", po->valPerClass, "validation images per class")->check(inRange(1, 1000000));
    make->add_option("--test-per-class", po->testPerClass, "test images per class")->check(inRange(1, 1000000));
    make->add_option("--size", po->size, "image size in pixels")->check(inRange(16, 4096));
    make->add_option("--seed", po->seed, "seed");
    make->callback([po, pout]() {
        const auto s = data::writePlantedBiasDataset(*pout, *po);
        std::cout << "wrote " << s.train << " train (" << s.trainAligned << " with the class's place), " << s.val << " val, " << s.test << " test images to " << *pout
                  << "\n";
    });

    struct MapArgs {
        attention::AttentionRunOptions o;
        int count = 8;
        std::string target = "predicted", map = "gradcam";
        std::int64_t index = 0;
        std::size_t first = 0;
    };
    auto ma = std::make_shared<MapArgs>();
    CLI::App* maps = aiou->add_subcommand("maps", "GradCAM or LRP maps (with masks) of N images of a split, as safetensors");
    addDataOptions(maps, ma->o);
    maps->add_option("--count", ma->count, "number of images")->check(inRange(1, 100000));
    maps->add_option("--target", ma->target, "abs | logit | predicted")->check(CLI::IsMember({"abs", "logit", "predicted"}));
    maps->add_option("--index", ma->index, "output explained (abs / logit)")->check(inRange(0, 100000));
    maps->add_option("--first", ma->first, "index of the first image in the split")->check(inRange(0, 1e9));
    maps->add_option("--map", ma->map, "gradcam | attnlrp | cp-lrp (LRP maps: ViT models)")->check(CLI::IsMember({"gradcam", "attnlrp", "cp-lrp"}));
    maps->callback([ma]() {
        configureCpuThreads(0);
        auto& o = ma->o;
        if (o.models.size() != 1) throw InputError("aiou maps: give exactly one --model");
        o.map = attention::parseMapKind(ma->map);
        const auto r = attention::sampleMaps(o, o.models.front(), ma->first, static_cast<std::size_t>(ma->count), attention::parseCamTarget(ma->target), ma->index);
        for (const auto& w : r.map.warnings) std::cerr << "biasscope-cli: warning: " << r.images[static_cast<std::size_t>(w.image)] << ": " << w.message << "\n";
        std::filesystem::create_directories(o.outDir);
        const std::string out = (std::filesystem::path(o.outDir) / "maps.safetensors").string();
        std::vector<std::pair<std::string, at::Tensor>> t{{"maps", r.map.maps}, {"raw", r.map.raw}, {"logits", r.map.logits}, {"masks", r.masks}, {"pixels", r.pixels}};
        if (r.confounderMap.maps.defined()) t.emplace_back("confounder_maps", r.confounderMap.maps);
        io::writeSafetensors(out, t,
                             {{"model", o.models.front()}, {"map", r.mapLabel}, {"target", ma->target}, {"images", nlohmann::json(r.images).dump()},
                              {"masks", nlohmann::json(r.maskNames).dump()}, {"groups", nlohmann::json(r.groupNames).dump()}});
        std::cout << "wrote " << out << " (" << r.images.size() << " " << r.mapLabel << " maps of " << r.modelName << ")\n";
    });
}

}  // namespace biasscope::cli
