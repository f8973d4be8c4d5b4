// The study's analysis stage on generated relevance: 4 sets x 40 images x 18 targets (17 labels +
// gender) x 2 sites (3072 / 768 features) x 12 layers. Similarity (pooled z-score, cosine, one-sample
// t, BH), consistency (top-k by |value|), paired label tests per set/site and independent male/female
// tests per condition/site with joint BH. Baseline in the same run: one read pass over the same data.
//   bench_analysis [--images N]
#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "analysis/LabelTTests.h"
#include "analysis/NeuronConsistency.h"
#include "analysis/RelevanceSimilarity.h"

using namespace biasscope::analysis;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    int images = 40;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::string(argv[i]) == "--images") images = std::stoi(argv[++i]);
    const int T = 18, L = 12, gender = 17;
    const int features[2] = {3072, 768};
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    // sets: 0 male, 1 female, 2 masked_male, 3 masked_female; per site one tensor of both sets of a condition
    std::vector<float> data[2][2];  // [condition][site] -> [2*images][T][L][F]
    for (auto& cond : data)
        for (int s = 0; s < 2; ++s) {
            cond[s].resize(static_cast<std::size_t>(2 * images) * T * L * features[s]);
            for (auto& v : cond[s]) v = nd(rng);
        }
    std::vector<int> labels(17);
    for (int i = 0; i < 17; ++i) labels[static_cast<std::size_t>(i)] = i;
    std::vector<int> maleImgs, femaleImgs, all;
    for (int i = 0; i < images; ++i) maleImgs.push_back(i), femaleImgs.push_back(images + i);
    for (int i = 0; i < 2 * images; ++i) all.push_back(i);

    auto t0 = Clock::now();
    double sink = 0;
    for (auto& cond : data)
        for (auto& site : cond)
            for (float v : site) sink += v;
    const double readPass = std::chrono::duration<double>(Clock::now() - t0).count();

    t0 = Clock::now();
    std::vector<LabelTest> paired[8], independent[4];
    std::size_t cells = 0;
    for (int c = 0; c < 2; ++c)
        for (int s = 0; s < 2; ++s) {
            const RelevanceTensorView v{data[c][s].data(), 2 * images, T, L, features[s]};
            const auto cos = pooledCosineToReference(v, gender);
            for (const auto* set : {&maleImgs, &femaleImgs}) {
                cells += aggregateSimilarity(cos, T, L, gender, *set, std::vector<bool>(set->size(), true)).size();
                std::vector<std::vector<std::vector<int>>> topK;
                for (int img : *set) {
                    std::vector<std::vector<int>> perLayer;
                    for (int l = 0; l < L; ++l) perLayer.push_back(topKNeurons(v.vector(img, gender, l), features[s], 5));
                    topK.push_back(perLayer);
                }
                sink += neuronConsistency(topK)[0].percent;
            }
            paired[c * 4 + s * 2 + 0] = pairedLabelTests(v, maleImgs, gender, labels);
            paired[c * 4 + s * 2 + 1] = pairedLabelTests(v, femaleImgs, gender, labels);
            independent[c * 2 + s] = independentLabelTests(v, maleImgs, gender, v, femaleImgs, gender, labels);
        }
    std::vector<std::vector<LabelTest>*> pf, inf;
    std::size_t tests = 0;
    for (auto& p : paired) pf.push_back(&p), tests += p.size();
    for (auto& p : independent) inf.push_back(&p), tests += p.size();
    applyJointFdr(pf);
    applyJointFdr(inf);
    const double analysis = std::chrono::duration<double>(Clock::now() - t0).count();
    std::cout << "4 sets x " << images << " images x " << T << " targets x 2 sites x " << L << " layers (generated)\n"
              << "| measure | value |\n|---|---|\n"
              << "| analysis stage, s | " << analysis << " |\n"
              << "| baseline: one read pass over the data, s | " << readPass << " |\n"
              << "| analysis / read pass | " << analysis / readPass << "x |\n"
              << "| t-tests | " << tests << " (paired " << pf.size() << " families, independent " << inf.size() << ") |\n"
              << "| similarity cells | " << cells << " |\n"
              << "(checksum " << sink << ")\n";
    return 0;
}
