// Relevance for many targets per image: our batched explicit backward vs the naive loop (one
// autograd forward+backward per target, as the published code does), on ViT-B/16 with random
// weights, 18 targets (17 ImageNet-head classes + 1 gender-head class). Also: achieved GFLOP/s
// against this machine's sgemm peak measured in the same run, and peak RSS.
// --load-cost: the fixed cost of a run (loading the model from a safetensors directory, its provenance hash
// included) as a ratio to the 18-target relevance pass: without the hash cache (hash beside the load), on a
// cache miss, and on a hit (io/HashCache); the goal is <= 0.5x.
//   bench_relevance [--tiny] [--repeats N] [--threads N] [--device cpu|cuda] [--json FILE] [--load-cost]
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "common/BlasKernels.h"
#include "common/Device.h"
#include "explain/RelevanceEngine.h"
#include "io/HashCache.h"
#include "io/Sha256.h"
#include "model/RandomVit.h"
#include "model/VitWeights.h"

using namespace biasscope;
using Clock = std::chrono::steady_clock;

namespace {

void sync(const c10::Device& d) {
    if (d.is_cuda()) torch::cuda::synchronize();
}

double seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

double peakRssMiB() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

// sgemm peak: best of several large float32 matmuls
double sgemmGflops(const c10::Device& d, int n) {
    const at::Tensor a = torch::randn({n, n}, torch::TensorOptions().device(d)), b = torch::randn({n, n}, torch::TensorOptions().device(d));
    torch::mm(a, b);
    sync(d);
    double best = 1e30;
    for (int i = 0; i < 5; ++i) {
        const auto t = Clock::now();
        const at::Tensor c = torch::mm(a, b);
        sync(d);
        best = std::min(best, seconds(t));
    }
    return 2.0 * n * n * static_cast<double>(n) / best / 1e9;
}

// GEMM FLOPs (multiply-add = 2) of the CP path: one forward, T backward seeds
struct Flops {
    double forward = 0, backwardPerTarget = 0, naiveBackwardPerTarget = 0;
};
Flops cpFlops(const model::VitConfig& c) {
    const double N = static_cast<double>(c.numTokens()), D = static_cast<double>(c.hiddenSize), I = static_cast<double>(c.intermediateSize),
                 L = static_cast<double>(c.numLayers), G2 = static_cast<double>(c.numPatches()), K = 3.0 * c.patchSize * c.patchSize;
    Flops f;
    f.forward = 2 * G2 * K * D + L * (2 * N * D * D * 4 + 2 * N * D * I * 2 + 2 * N * N * D * 2);
    f.backwardPerTarget = 2 * G2 * K * D + L * (2 * N * D * D * 2 + 2 * N * D * I * 2 + 2 * N * N * D);
    f.naiveBackwardPerTarget = f.backwardPerTarget;
    // last block: MLP and output projection on the CLS row only (RelevanceEngine.cpp)
    f.backwardPerTarget -= (N - 1) * (2 * D * I * 2 + 2 * D * D);
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    reexecWithBetterBlasKernels(argv);
    bool tiny = false, loadCost = false;
    int repeats = 3, threads = 0;
    std::string device = "cpu", json;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--tiny") tiny = true;
        else if (a == "--repeats" && i + 1 < argc) repeats = std::stoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = std::stoi(argv[++i]);
        else if (a == "--device" && i + 1 < argc) device = argv[++i];
        else if (a == "--json" && i + 1 < argc) json = argv[++i];
        else if (a == "--load-cost") loadCost = true;
        else {
            std::cerr << "usage: bench_relevance [--tiny] [--repeats N] [--threads N] [--device cpu|cuda] [--json FILE] [--load-cost]\n";
            return 2;
        }
    }
    configureCpuThreads(threads);
    const c10::Device dev = resolveDevice(device);
    torch::manual_seed(0);

    model::VitConfig cfg;  // ViT-B/16, 224 px, ImageNet head
    cfg.id2label.clear();
    for (int i = 0; i < 1000; ++i) cfg.id2label.push_back("LABEL_" + std::to_string(i));
    if (tiny) {
        cfg = model::tinyVitConfig(1000);
        repeats = 1;
    }
    model::VitModel m = model::makeRandomVitModel(cfg, {});
    model::ClassifierHead gender;
    gender.name = "gender";
    gender.linear = {torch::randn({2, cfg.hiddenSize}) * 0.02, torch::zeros({2})};
    gender.labels = {"female", "male"};
    m.heads.push_back(gender);
    m = m.to(dev);
    const at::Tensor x = torch::randn({1, 3, cfg.imageSize, cfg.imageSize}, torch::TensorOptions().device(dev));
    std::vector<explain::Target> targets;
    for (int c : {617, 823, 608, 474, 655, 400, 697, 688, 834, 681, 838, 903, 629, 459, 906, 526, 624}) targets.push_back({0, c});
    targets.push_back({1, 1});
    explain::RelevanceOptions opt;  // published configuration: CP, sites intermediate + final
    opt.accounting = false;
    const double T = static_cast<double>(targets.size());

    const double peak = sgemmGflops(dev, tiny ? 256 : 2048);
    const Flops f = cpFlops(cfg);
    const double oursFlop = f.forward + T * f.backwardPerTarget;

    explain::explainBatched(m, x, targets, opt);  // warm-up
    sync(dev);
    std::vector<double> ours;
    for (int r = 0; r < repeats; ++r) {
        const auto t = Clock::now();
        explain::explainBatched(m, x, targets, opt);
        sync(dev);
        ours.push_back(seconds(t));
    }
    std::sort(ours.begin(), ours.end());
    const double oursMedian = ours[ours.size() / 2];
    const double rssOurs = peakRssMiB();

    std::vector<double> naive;
    for (int r = 0; r < std::max(1, repeats / 2); ++r) {
        const auto t = Clock::now();
        explain::explainWithAutograd(m, x, targets, opt);
        sync(dev);
        naive.push_back(seconds(t));
    }
    std::sort(naive.begin(), naive.end());
    const double naiveMedian = naive[naive.size() / 2];
    const double floorSeconds = oursFlop / (peak * 1e9);
    const double achieved = oursFlop / oursMedian / 1e9;

    // fixed cost: load from disk (+ provenance hash) as a ratio to the 18-target pass
    double loadNoCache = 0, loadMiss = 0, loadHit = 0, hashAlone = 0, firstResult = 0;
    if (loadCost) {
        namespace fs = std::filesystem;
        const fs::path dir = fs::temp_directory_path() / ("biasscope-bench-load-" + std::to_string(::getpid()));
        model::saveHuggingFaceDirectory(m, (dir / "model").string(), 0);
        const std::string weights = (dir / "model" / "model.safetensors").string();
        ::setenv("BIASSCOPE_CACHE_DIR", (dir / "cache").string().c_str(), 1);
        auto timeLoad = [&](double& out) {
            const auto t = Clock::now();
            model::VitModel l = model::loadVitModel((dir / "model").string()).to(dev);
            out = seconds(t);
            return l;
        };
        {
            auto t = Clock::now();
            io::sha256FileHex(weights);  // page cache warm for every variant below
            hashAlone = seconds(t);
        }
        ::setenv("BIASSCOPE_HASH_CACHE", "0", 1);
        timeLoad(loadNoCache);
        ::unsetenv("BIASSCOPE_HASH_CACHE");
        timeLoad(loadMiss);
        model::VitModel l = timeLoad(loadHit);
        const auto t = Clock::now();
        explain::explainBatched(l, x, {{0, 617}}, opt);
        sync(dev);
        firstResult = seconds(t);
        fs::remove_all(dir);
    }
    std::cout << "model: " << (tiny ? "tiny ViT" : "ViT-B/16 224px (random weights)") << ", " << targets.size() << " targets, rule cp, device "
              << describeDevice(dev) << ", threads " << torch::get_num_threads()
              << (openBlasCore().empty() ? std::string() : ", OpenBLAS kernels " + openBlasCore()) << "\n"
              << "| measure | value |\n|---|---|\n"
              << "| naive loop (1 fwd+bwd per target), s/image | " << naiveMedian << " |\n"
              << "| batched backward (ours), s/image | " << oursMedian << " |\n"
              << "| speed-up vs naive | " << naiveMedian / oursMedian << "x |\n"
              << "| FLOP-count bound on the speed-up (naive FLOPs / ours) | " << T * (f.forward + f.naiveBackwardPerTarget) / oursFlop << "x |\n"
              << "| sgemm peak (same run), GFLOP/s | " << peak << " |\n"
              << "| ours: GEMM GFLOP per image | " << oursFlop / 1e9 << " |\n"
              << "| ours: achieved GFLOP/s | " << achieved << " |\n"
              << "| ours: time / FLOP floor (sgemm peak) | " << oursMedian / floorSeconds << "x |\n"
              << "| peak RSS after our path, MiB | " << rssOurs << " |\n"
              << "| peak RSS after naive loop, MiB | " << peakRssMiB() << " |\n";
    if (loadCost)
        std::cout << "| SHA-256 of the weights alone, s | " << hashAlone << " |\n"
                  << "| load, hash beside it (no cache), s / ratio to the 18-target pass | " << loadNoCache << " / " << loadNoCache / oursMedian << "x |\n"
                  << "| load, hash cache miss, s / ratio | " << loadMiss << " / " << loadMiss / oursMedian << "x |\n"
                  << "| load, hash cache hit, s / ratio | " << loadHit << " / " << loadHit / oursMedian << "x |\n"
                  << "| first result after the load (1 target), s | " << firstResult << " |\n";
    if (!json.empty()) {
        std::ofstream out(json);
        out << "{\"device\":\"" << describeDevice(dev) << "\",\"threads\":" << torch::get_num_threads() << ",\"targets\":" << targets.size()
            << ",\"naive_s\":" << naiveMedian << ",\"ours_s\":" << oursMedian << ",\"speedup\":" << naiveMedian / oursMedian
            << ",\"sgemm_gflops\":" << peak << ",\"ours_gflop\":" << oursFlop / 1e9 << ",\"achieved_gflops\":" << achieved
            << ",\"floor_ratio\":" << oursMedian / floorSeconds << ",\"rss_ours_mib\":" << rssOurs;
        if (loadCost)
            out << ",\"hash_s\":" << hashAlone << ",\"load_nocache_s\":" << loadNoCache << ",\"load_miss_s\":" << loadMiss << ",\"load_hit_s\":" << loadHit
                << ",\"first_result_s\":" << firstResult << ",\"load_hit_ratio\":" << loadHit / oursMedian;
        out << "}\n";
    }
    return 0;
}
