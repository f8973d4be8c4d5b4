// The study's analysis stage on generated relevance: 4 sets x 40 images x 18 targets (17 labels +
// gender) x 2 sites (3072 / 768 features) x 12 layers. Similarity (pooled z-score, cosine, one-sample
// t, BH), consistency (top-k by |value|), paired label tests per set/site and independent male/female
// tests per condition/site with joint BH. Baseline in the same run: one read pass over the same data.
// Then the statistics beyond the published study (bootstrap CIs of every effect size, per-neuron tests).
//   bench_analysis [--images N] [--resamples B]
#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "analysis/Bootstrap.h"
#include "analysis/LabelTTests.h"
#include "analysis/NeuronTests.h"
#include "analysis/NeuronConsistency.h"
#include "analysis/RelevanceSimilarity.h"

using namespace biasscope::analysis;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    int images = 40, resamples = 10000;
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--images") images = std::stoi(argv[++i]);
        else if (std::string(argv[i]) == "--resamples") resamples = std::stoi(argv[++i]);
    }
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

    // beyond the published study (docs/statistics.md): the per-image unit with bootstrap CIs of every effect
    // size, the CIs of the pooled tests, and the per-neuron tests (each label vs the reference, every set and
    // site; male vs female per target), with the same data
    const BootstrapOptions boot{resamples, 20261207, 0.95};
    t0 = Clock::now();
    std::size_t ciTests = 0;
    for (int c = 0; c < 2; ++c)
        for (int s = 0; s < 2; ++s) {
            const RelevanceTensorView v{data[c][s].data(), 2 * images, T, L, features[s]};
            for (const auto unit : {TestUnit::PooledImageTopK, TestUnit::ImageMean}) {
                const TopKOptions o{5, RankBy::Magnitude, unit, &boot};
                ciTests += pairedLabelTests(v, maleImgs, gender, labels, o).size();
                ciTests += pairedLabelTests(v, femaleImgs, gender, labels, o).size();
                ciTests += independentLabelTests(v, maleImgs, gender, v, femaleImgs, gender, labels, o).size();
            }
        }
    const double withCis = std::chrono::duration<double>(Clock::now() - t0).count();
    t0 = Clock::now();
    std::size_t neuronTests = 0;
    for (int c = 0; c < 2; ++c)
        for (int s = 0; s < 2; ++s) {
            const RelevanceTensorView v{data[c][s].data(), 2 * images, T, L, features[s]};
            for (int label : labels) {
                neuronTests += pairedNeuronTests(v, maleImgs, label, gender).size();
                neuronTests += pairedNeuronTests(v, femaleImgs, label, gender).size();
            }
            for (int t = 0; t < T; ++t) neuronTests += independentNeuronTests(v, maleImgs, t, v, femaleImgs, t).size();
        }
    const double perNeuron = std::chrono::duration<double>(Clock::now() - t0).count();
    std::cout << "4 sets x " << images << " images x " << T << " targets x 2 sites x " << L << " layers (generated)\n"
              << "| measure | value |\n|---|---|\n"
              << "| analysis stage, s | " << analysis << " |\n"
              << "| baseline: one read pass over the data, s | " << readPass << " |\n"
              << "| analysis / read pass | " << analysis / readPass << "x |\n"
              << "| t-tests | " << tests << " (paired " << pf.size() << " families, independent " << inf.size() << ") |\n"
              << "| similarity cells | " << cells << " |\n"
              << "| label tests, both units, with " << resamples << "-resample bootstrap CIs of d, s | " << withCis << " (" << ciTests << " tests; "
              << withCis / readPass << "x the read pass) |\n"
              << "| per-neuron tests (labels vs reference, male vs female per target), s | " << perNeuron << " (" << neuronTests << " tests; "
              << perNeuron / readPass << "x the read pass) |\n"
              << "(checksum " << sink << ")\n";
    return 0;
}
