// Training throughput, as ratios within one run on the same generated data (learnable colour discs,
// CelebA-sized 178x218 JPEGs):
//  1. loader: decode + augment images/s with 1 worker (per core) and with N workers, next to the
//     model's training step throughput;
//  2. time to a trained head: `probe` (features once, cached, logistic regression by L-BFGS) vs `head`
//     (augmented forward every epoch, published), with both validation accuracies.
//   bench_training [--tiny] [--images N] [--epochs E] [--workers W] [--threads T] [--device D]
// --tiny (CI smoke): a 2-layer 32-wide ViT on 60 images; default: a ViT-S/16-sized model (384 wide,
// 6 layers, 6 heads, 224 px) on 400 images.
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <string>
#include <unistd.h>

#include "common/Device.h"
#include "data/BatchLoader.h"
#include "data/Datasets.h"
#include "data/SyntheticImage.h"
#include "model/RandomVit.h"
#include "train/Trainer.h"

using namespace biasscope;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    bool tiny = false;
    int images = 400, epochs = 10, workers = 2, threads = 0;
    std::string device = "cpu";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--tiny") tiny = true;
        else if (a == "--images") images = std::stoi(next());
        else if (a == "--epochs") epochs = std::stoi(next());
        else if (a == "--workers") workers = std::stoi(next());
        else if (a == "--threads") threads = std::stoi(next());
        else if (a == "--device") device = next();
        else {
            std::cerr << "unknown option " << a << "\n";
            return 2;
        }
    }
    if (tiny) {
        images = 60;
        epochs = 3;
    }
    configureCpuThreads(threads);
    const fs::path root = fs::temp_directory_path() / ("biasscope-bench-training-" + std::to_string(::getpid()));
    data::writeColourDiscDataset((root / "data").string(), images / 2, 11, 178, 218, "jpg");
    const auto data = data::loadImageFolder((root / "data").string(), 42);

    model::VitConfig cfg = model::tinyVitConfig(2);
    if (!tiny) {
        cfg.imageSize = 224;
        cfg.patchSize = 16;
        cfg.hiddenSize = 384;
        cfg.numLayers = 6;
        cfg.numHeads = 6;
        cfg.intermediateSize = 1536;
    }
    const auto init = model::makeRandomVitModel(cfg, {3});

    // 1. loader throughput
    auto loaderRate = [&](int w) {
        data::LoaderOptions lo;
        lo.batchSize = 32;
        lo.workers = w;
        lo.transform.size = static_cast<int>(cfg.imageSize);
        data::BatchLoader l(data.train, lo);
        const auto t0 = Clock::now();
        std::size_t n = 0;
        while (auto b = l.next()) n += static_cast<std::size_t>(b->labels.numel());
        return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t0).count();
    };
    loaderRate(workers);  // warm the file cache
    const double perCore = loaderRate(1), parallel = loaderRate(workers);

    // 2. probe vs head, same epochs and data
    auto run = [&](train::TrainMode mode) {
        train::TrainOptions o;
        o.mode = mode;
        o.epochs = epochs;
        o.patience = epochs + 1;
        o.batchSize = 32;
        o.workers = workers;
        o.lr = 3e-3;
        o.device = resolveDevice(device);
        o.outDir = (root / train::toString(mode)).string();
        const auto t0 = Clock::now();
        auto r = train::trainClassifier(init, data, o);
        return std::make_pair(std::chrono::duration<double>(Clock::now() - t0).count(), r);
    };
    const auto [probeSecs, probe] = run(train::TrainMode::Probe);
    const auto [headSecs, head] = run(train::TrainMode::Head);
    double stepRate = 0;
    for (const auto& e : head.history) stepRate += e.imagesPerSecond / static_cast<double>(head.history.size());
    fs::remove_all(root);

    std::cout << std::setprecision(4) << (tiny ? "tiny ViT" : "ViT-S/16-sized (384 wide, 6 layers, 224 px)") << ", " << data.train.size() << " training images (178x218 JPEG), "
              << epochs << " epochs, " << workers << " loader workers, device " << device << "\n"
              << "| measure | value |\n|---|---|\n"
              << "| loader decode + augment, 1 worker (per core), images/s | " << perCore << " |\n"
              << "| loader decode + augment, " << workers << " workers, images/s | " << parallel << " |\n"
              << "| head-mode training step (loader + frozen forward + head update), images/s | " << stepRate << " |\n"
              << "| `head` (published, augmented forward every epoch): time to trained head, s | " << headSecs << " |\n"
              << "| `probe` (features once, cached, L-BFGS to max |gradient| <= 1e-4): time to trained head, s | " << probeSecs << " |\n"
              << "| probe fit: L-BFGS evaluations, converged | " << probe.probeEvaluations << ", " << (probe.probeConverged ? "yes" : "no") << " |\n"
              << "| probe speed-up over head | " << headSecs / probeSecs << "x |\n"
              << "| best validation accuracy head / probe | " << head.bestValAcc << " / " << probe.bestValAcc << " |\n"
              << "| test accuracy head / probe | " << head.testAcc << " / " << probe.testAcc << " |\n";
    return 0;
}
