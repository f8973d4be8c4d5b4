#pragma once
// Small fixtures shared by the core and UI test executables (header-only: the executables link
// different libraries): the message of an expected exception, a tiny random ResNet, and a study
// folder over the tiny test ViT with a 2-class "gender" head.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <torch/types.h>

#include "data/SyntheticImage.h"
#include "io/ImageIO.h"
#include "io/Safetensors.h"
#include "model/CnnModel.h"

namespace biasscope::test {

// The what() of the exception f throws, or "" if it throws none.
template <typename F>
std::string errorOf(F f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

// A file with exactly these bytes (replaced), and a file's bytes.
inline void writeBytes(const std::filesystem::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << s;
}
inline std::string readBytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// ResNet with one BasicBlock per stage, widths 8/16/16/16: trains in seconds on 32-64 px images.
inline model::CnnModel tinyResNet(std::uint64_t seed, std::int64_t classes = 2) {
    model::CnnSpec s;
    s.arch = "resnet";
    s.stageBlocks = {1, 1, 1, 1};
    s.stageWidths = {8, 16, 16, 16};
    s.numClasses = classes;
    s.seed = seed;
    return model::makeRandomCnn(s);
}

// <root>/study.json over the tiny ViT (`tinyVitDir`: tests/data/tiny-vit) as "imagenet" head plus a
// seeded 2-class "gender" head on the same backbone (<root>/models/gender.safetensors); targets a, b,
// gender_male, gender_female; one synthetic-image folder per set. `sets`: name -> condition.
inline std::string writeTinyStudy(const std::filesystem::path& root, const std::string& tinyVitDir,
                                  const std::vector<std::pair<std::string, std::string>>& sets, int imagesPerSet, int width, int height,
                                  const std::string& extra = R"("rule": "cp", "readout": "gradient")") {
    namespace fs = std::filesystem;
    auto sd = io::readSafetensors(tinyVitDir + "/model.safetensors").tensors;
    torch::manual_seed(2);
    for (auto& [k, v] : sd) {
        if (k == "classifier.weight") v = torch::randn({2, 32});
        if (k == "classifier.bias") v = torch::zeros({2});
    }
    fs::create_directories(root / "models");
    io::writeSafetensors((root / "models/gender.safetensors").string(), sd);
    std::string setsJson;
    for (std::size_t s = 0; s < sets.size(); ++s) {
        const auto& [set, condition] = sets[s];
        fs::create_directories(root / set);
        for (int i = 0; i < imagesPerSet; ++i)  // image seeds 10 (s + 1) + i
            io::saveRgbImage((root / set / (set + std::to_string(i) + ".png")).string(),
                             data::makeSyntheticImage(width, height, static_cast<std::uint64_t>(10 * (s + 1) + static_cast<std::size_t>(i))));
        const bool male = set.find("female") == std::string::npos;
        setsJson += std::string(setsJson.empty() ? "" : ",") + R"({"name": ")" + set + R"(", "folder": ")" + set + R"(", "condition": ")" + condition +
                    R"(", "reference_target": ")" + (male ? "gender_male" : "gender_female") + R"("})";
    }
    const std::string path = (root / "study.json").string();
    std::ofstream(path) << R"({"name": "tiny", "heads": [
        {"name": "imagenet", "path": ")" << tinyVitDir << R"("},
        {"name": "gender", "path": "models/gender.safetensors", "config": ")" << tinyVitDir << R"(/config.json"}],
      "targets": [{"name": "a", "head": "imagenet", "class": 1}, {"name": "b", "head": "imagenet", "class": 4},
                  {"name": "gender_male", "head": "gender", "class": 1}, {"name": "gender_female", "head": "gender", "class": 0}],
      "image_sets": [)" << setsJson << R"(],
      "sites": ["intermediate", "final"], )" << extra << "}";
    return path;
}

}  // namespace biasscope::test
