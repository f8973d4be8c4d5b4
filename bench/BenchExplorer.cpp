// Explorer responsiveness: after a study store is open, how long switching the image, the layer, the
// neuron and the target takes to redraw (everything the UI thread does: record reads, colour maps,
// replots), as medians, and as ratios to a bare replot of the same plots in the same run. Memory: the
// process's resident set after opening the store and after one neuron profile (its target/site block).
//   bench_explorer [--tiny] [--store DIR] [--images N] [--targets T] [--repeats R] [--browser N]
// --browser N: the image browser with N images (tiny records, real image files): time to open the
// store, to filter by set and by confidence, to select an image and to scroll the grid to the end.
// Default: a ViT-B/16-shaped store written here (160 images = 80 iEAT images x 2 sets, 18 targets,
// 12 layers, 3072 post-GELU / 768 block-output features, 197 tokens, 224 x 224 input maps; random
// values, real images), kept in --store for later runs. --tiny: 8 images, 2 targets (CI smoke).
#include <torch/types.h>

#include "io/Safetensors.h"
#include "study/StudyStore.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QListView>
#include <QSignalSpy>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <qcustomplot.h>

#include "StudyExplorer.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {

double rssMiB() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return 0;
}

void writeStore(const fs::path& dir, const std::string& imageRoot, int imagesPerSet, int targets, int layers, int inter, int hidden, int tokens, int side) {
    fs::create_directories(dir);
    std::ofstream s(dir / "study.json");
    s << R"({"name": "bench", "heads": [{"name": "imagenet", "path": "none"}], "targets": [)";
    for (int t = 0; t < targets; ++t) s << (t ? "," : "") << R"({"name": "t)" << t << R"(", "head": "imagenet", "class": )" << t << "}";
    s << R"(], "image_sets": [{"name": "female", "folder": "f", "condition": "unmasked", "reference_target": "t0"},
        {"name": "masked_female", "folder": "m", "condition": "masked", "reference_target": "t0"}],
        "sites": ["intermediate", "final"], "rule": "cp", "readout": "relevance"})";
    s.close();
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(imageRoot))
        if (e.path().extension() == ".jpg" || e.path().extension() == ".png") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    torch::manual_seed(0);
    for (const std::string set : {"female", "masked_female"}) {
        fs::create_directories(dir / "relevance" / set);
        for (int i = 0; i < imagesPerSet; ++i) {
            std::vector<std::pair<std::string, at::Tensor>> t{{"confidence", torch::rand({1})}};
            for (int k = 0; k < targets; ++k) {
                const std::string p = "t" + std::to_string(k) + "/";
                t.emplace_back(p + "input", torch::randn({side, side}));
                t.emplace_back(p + "intermediate", torch::randn({layers, inter}));
                t.emplace_back(p + "intermediate_tokens", torch::randn({layers, tokens}));
                t.emplace_back(p + "final", torch::randn({layers, hidden}));
                t.emplace_back(p + "final_tokens", torch::randn({layers, tokens}));
            }
            const std::string image = files.empty() ? "" : files[static_cast<std::size_t>(i) % files.size()];
            io::writeSafetensors((dir / "relevance" / set / ("img" + std::to_string(i) + ".safetensors")).string(), t,
                                 {{"format", "biasscope.study-image.v1"}, {"image_file", image}, {"set", set}});
        }
    }
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM") && !qEnvironmentVariableIsSet("DISPLAY")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    bool tiny = false;
    std::string store;
    int imagesPerSet = 80, targets = 18, repeats = 15, browser = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : throw std::runtime_error(a + " needs a value"); };
        if (a == "--tiny") tiny = true;
        else if (a == "--store") store = next();
        else if (a == "--images") imagesPerSet = std::stoi(next()) / 2;
        else if (a == "--targets") targets = std::stoi(next());
        else if (a == "--repeats") repeats = std::stoi(next());
        else if (a == "--browser") browser = std::stoi(next());
        else {
            std::cerr << "unknown option " << a << "\n";
            return 2;
        }
    }
    const std::string images = std::string(BIASSCOPE_SHARED_DATA) + "/ieat-gender/female";
    int layers = 12, inter = 3072, hidden = 768, tokens = 197, side = 224;
    if (tiny) imagesPerSet = 4, targets = 2, layers = 2, inter = 64, hidden = 32, tokens = 17, side = 32, repeats = 3;
    if (browser > 0) imagesPerSet = browser / 2, targets = 1, layers = 2, inter = 16, hidden = 8, tokens = 5, side = 16;
    if (store.empty()) store = (fs::temp_directory_path() / (tiny ? "biasscope-bench-explorer-tiny" : "biasscope-bench-explorer")).string();
    const double rss0 = rssMiB();
    QElapsedTimer clock;
    if (!fs::exists(fs::path(store) / "study.json")) {
        clock.start();
        writeStore(store, images, imagesPerSet, targets, layers, inter, hidden, tokens, side);
        std::cout << "wrote the store in " << clock.elapsed() / 1000.0 << " s: " << store << "\n";
    }
    ui::StudyExplorer e;
    e.resize(1400, 900);
    e.show();
    QSignalSpy opened(&e, &ui::StudyExplorer::storeOpened);
    clock.start();
    e.openStore(QString::fromStdString(store));
    if (!opened.wait(600000) || !opened.takeFirst().at(0).toBool()) {
        std::cerr << "could not open the store\n";
        return 1;
    }
    const double openSeconds = clock.elapsed() / 1000.0;
    const double rssOpen = rssMiB();
    const int n = e.visibleImages();
    if (browser > 0) {
        auto* view = e.findChild<QListView*>();
        auto ms = [&](const std::function<void()>& f) {
            QElapsedTimer t;
            t.start();
            f();
            QApplication::processEvents();
            return t.nsecsElapsed() / 1e6;
        };
        const double filterSet = ms([&] { e.setSetFilter("masked_female"); });
        const double filterAll = ms([&] { e.setSetFilter(""); });
        const double filterConf = ms([&] { e.setMinConfidence(0.5); });
        e.setMinConfidence(0);
        const double select = ms([&] { e.selectImage(n / 2); });
        const double scroll = ms([&] {
            view->scrollToBottom();
            view->repaint();
        });
        QApplication::processEvents();
        std::cout << std::fixed << std::setprecision(1) << "browser: " << n << " images; store opened in " << openSeconds << " s (worker thread)\n"
                  << "filter by set: " << filterSet << " ms, back to all: " << filterAll << " ms, by confidence: " << filterConf << " ms\n"
                  << "select an image (all views): " << select << " ms; scroll the grid to the end and repaint: " << scroll << " ms\n"
                  << "memory (RSS): " << rss0 << " MiB at start, " << rssOpen << " MiB with the store open, " << rssMiB() << " MiB after scrolling\n";
        return 0;
    }
    const auto plots = e.findChildren<QCustomPlot*>();

    auto timeIt = [&](const std::function<void(int)>& f) {
        std::vector<double> ms;
        for (int r = 0; r < repeats; ++r) {
            QElapsedTimer t;
            t.start();
            f(r);
            ms.push_back(t.nsecsElapsed() / 1e6);
        }
        return median(ms);
    };
    const double bare = timeIt([&](int) {
        for (auto* p : plots) p->replot(QCustomPlot::rpImmediateRefresh);
    });
    const double image = timeIt([&](int r) { e.selectImage((r * 7 + 1) % n); });
    const double layer = timeIt([&](int r) { e.selectLayer(r % layers); });
    // the first neuron of a target/site reads its block from every record (in a worker); afterwards a switch redraws
    QSignalSpy ready(&e, &ui::StudyExplorer::neuronReady);
    clock.start();
    e.selectNeuron(layers - 1, 5);
    ready.wait(600000);
    const double firstNeuronSeconds = clock.elapsed() / 1000.0;
    const double rssNeuron = rssMiB();
    const double neuron = timeIt([&](int r) {
        e.selectNeuron((r * 3) % layers, (r * 37) % inter);
        ready.wait(60000);
    });
    // with a neuron selected, a target switch also starts reading that target's block in a worker
    const double targetWithNeuron = timeIt([&](int r) { e.selectTarget(QString("t%1").arg((r + 1) % targets)); });
    ready.wait(600000);
    e.selectNeuron(-1, -1);
    const double target = timeIt([&](int r) { e.selectTarget(QString("t%1").arg((r + 2) % targets)); });

    std::cout << std::fixed << std::setprecision(1) << "store: " << n << " images x " << targets << " targets, " << layers << " layers, " << inter << " / "
              << hidden << " features, " << side << " px maps; opened in " << openSeconds << " s\n"
              << "bare replot of the " << plots.size() << " plots: " << bare << " ms (median of " << repeats << ")\n"
              << "switch image : " << image << " ms  (" << image / bare << "x a bare replot)\n"
              << "switch layer : " << layer << " ms  (" << layer / bare << "x)\n"
              << "switch neuron: " << neuron << " ms  (" << neuron / bare << "x; includes the worker's profile from the cached block)\n"
              << "switch target: " << target << " ms  (" << target / bare << "x)\n"
              << "switch target with a neuron selected: " << targetWithNeuron << " ms  (" << targetWithNeuron / bare
              << "x; a worker reads the new target's block at the same time)\n"
              << "first neuron of a target/site (reads its block from every record, worker thread): " << firstNeuronSeconds << " s\n"
              << "memory (RSS): " << rss0 << " MiB at start, " << rssOpen << " MiB with the store open, " << rssNeuron << " MiB after one neuron profile\n";
    const double worst = std::max({image, layer, target});
    std::cout << (worst < 50 ? "OK" : "SLOW") << ": the slowest switch on the UI thread takes " << worst << " ms (target < 50 ms)\n";
    return 0;
}
