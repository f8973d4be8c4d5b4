// `biasscope-cli train`: fine-tune a ViT classifier (published recipe by default), resumable.
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "CliSupport.h"
#include "Commands.h"
#include "common/Device.h"
#include "common/Error.h"
#include "data/Datasets.h"
#include "model/RandomVit.h"
#include "model/VitConfig.h"
#include "train/Trainer.h"

namespace biasscope::cli {

namespace {

struct TrainArgs {
    std::string data = "celeba", root, attribute = "Male", mode = "head", init, config, out, device = "auto";
    int epochs = 50, batch = 128, patience = 5, workers = 4, threads = 0;
    double lr = 3e-4, wd = 1e-4, probeC = 1.0;
    std::uint64_t seed = 42;
    bool noPartition = false, keepHead = false;
};

void run(const TrainArgs& a) {
    configureCpuThreads(a.threads);
    data::DatasetSplits d;
    if (a.data == "celeba") d = data::loadCelebA(a.root, a.attribute, a.seed, !a.noPartition);
    else if (a.data == "folder") d = data::loadImageFolder(a.root, a.seed);
    else if (a.data == "csv") d = data::loadCsvDataset(a.root, a.seed);
    else throw InputError("--data " + a.data + ": expected celeba, folder or csv");
    if (d.train.classNames.size() < 2)
        throw InputError(a.root + ": the data set has " + std::to_string(d.train.classNames.size()) + " class(es); training needs at least two");
    if (d.train.size() == 0 || d.val.size() == 0)
        throw InputError(a.root + ": the split gives " + std::to_string(d.train.size()) + " training and " + std::to_string(d.val.size()) +
                         " validation images; training needs both");
    model::VitModel init;
    if (!a.init.empty()) {
        init = model::loadVitModel(a.init, a.config.empty() ? std::nullopt : std::optional<std::string>(a.config));
    } else if (!a.config.empty()) {
        init = model::makeRandomVitModel(model::VitConfig::fromJsonFile(a.config), {a.seed});
        std::cerr << "biasscope-cli: note: no --init; training from a random initialisation of " << a.config << "\n";
    } else {
        throw InputError("give --init (a pretrained ViT: HF directory, .safetensors or .pth) or --config (train from scratch)");
    }
    train::TrainOptions o;
    o.mode = train::parseTrainMode(a.mode);
    o.lr = a.lr;
    o.weightDecay = a.wd;
    o.batchSize = a.batch;
    o.epochs = a.epochs;
    o.patience = a.patience;
    o.workers = a.workers;
    o.seed = a.seed;
    o.device = resolveDevice(a.device);
    o.outDir = a.out;
    o.keepHead = a.keepHead;
    o.probeC = a.probeC;
    std::cout << "train " << d.train.size() << ", val " << d.val.size() << ", test " << d.test.size() << " images (" << d.splitSource << "); mode "
              << a.mode << " on " << describeDevice(o.device) << "\n";
    JobControl job;
    job.progress = progressPrinter(false);
    train::TrainCallbacks cb;
    cb.onEpoch = [](const train::EpochMetrics& e) {
        endProgressLine();
        std::cout << std::fixed << std::setprecision(4) << "epoch " << e.epoch << ": train loss " << e.trainLoss << " acc " << e.trainAcc << ", val loss "
                  << e.valLoss << " acc " << e.valAcc << " (" << std::setprecision(1) << e.seconds << " s, " << e.imagesPerSecond << " img/s)\n"
                  << std::flush;
    };
    const auto r = train::trainClassifier(init, d, o, job, cb);
    if (o.mode == train::TrainMode::Probe)
        std::cout << std::setprecision(3) << std::scientific << "probe: L-BFGS, " << r.probeEvaluations << " evaluations, max |gradient| " << r.probeMaxAbsGradient
                  << (r.probeConverged ? " (converged)" : " (NOT converged: raise C's regularisation or check the features)") << std::fixed << "\n";
    if (r.resumedAfterEpoch > 0) std::cout << "(resumed after epoch " << r.resumedAfterEpoch << ")\n";
    std::ostringstream test;
    test << std::fixed << std::setprecision(4) << r.testAcc;
    std::cout << std::setprecision(4) << "best epoch " << r.bestEpoch << ": val acc " << r.bestValAcc << ", test acc "
              << (std::isnan(r.testAcc) ? std::string("n/a (no test images)") : test.str())
              << (r.stoppedEarly ? " (early stop)" : "") << " -> " << r.bestDir << "\n";
    if (!r.unreadable.empty())
        std::cerr << "biasscope-cli: warning: " << r.unreadable.size() << " unreadable image(s) skipped, listed in " << a.out << "/unreadable.txt\n";
}

}  // namespace

void addTrainCommand(CLI::App& app) {
    auto a = std::make_shared<TrainArgs>();
    CLI::App* cmd = app.add_subcommand("train", "Fine-tune a ViT classifier (published recipe: frozen backbone, AdamW 3e-4, batch 128, early stopping 5)");
    cmd->add_option("--data", a->data, "celeba (root with img_align_celeba/ + list_attr_celeba.txt), folder (<root>/<class>/), csv (path,label[,split])")
        ->check(CLI::IsMember({"celeba", "folder", "csv"}));
    cmd->add_option("--root", a->root, "dataset root (csv: the CSV file)")->required();
    cmd->add_option("--attribute", a->attribute, "CelebA attribute used as the label (-1/1 -> 0/1)");
    cmd->add_option("--mode", a->mode, "head (published), full, probe (cached features; logistic regression by L-BFGS, as scikit-learn fits it)")->check(CLI::IsMember({"head", "full", "probe"}));
    cmd->add_option("--init", a->init, "pretrained ViT: HF directory, .safetensors or .pth");
    cmd->add_option("--config", a->config, "config.json (with --init: its geometry; without: train from random init)");
    cmd->add_option("--out", a->out, "output folder (best/ HF checkpoint, last/ resume state, metrics.csv, tensorboard/)")->required();
    cmd->add_option("--epochs", a->epochs, "maximum epochs")->check(inRange(1, 10000));
    cmd->add_option("--batch", a->batch, "batch size")->check(inRange(1, 65536));
    cmd->add_option("--lr", a->lr, "AdamW learning rate")->check(inOpenRange(0, 10, true));
    cmd->add_option("--weight-decay", a->wd, "AdamW weight decay")->check(inRange(0, 10));
    cmd->add_option("--patience", a->patience, "early stopping patience (epochs without a better validation accuracy)")->check(inRange(1, 10000));
    cmd->add_option("--seed", a->seed, "seed of split, head init, order and augmentation");
    cmd->add_option("--workers", a->workers, "loader threads")->check(inRange(0, 256));
    cmd->add_option("--threads", a->threads, "compute threads (default: all)")->check(inRange(0, 1024));
    cmd->add_option("--device", a->device, "auto, cpu or cuda[:N]");
    cmd->add_flag("--no-partition", a->noPartition, "ignore list_eval_partition.txt; use the stratified 80/10/10 split");
    cmd->add_option("--probe-c", a->probeC, "probe: inverse L2 strength C (scikit-learn's; default 1)")->check(inOpenRange(0, 1e6, true));
    cmd->add_flag("--keep-head", a->keepHead, "keep the init checkpoint's classifier when the class count matches");
    cmd->callback([a]() { run(*a); });
}

}  // namespace biasscope::cli
