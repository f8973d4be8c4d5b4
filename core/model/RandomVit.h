#pragma once
// Randomly initialised ViTs (HF initialisation: truncated normal std 0.02, LayerNorm 1/0) for tests,
// benchmarks and the first-run demo; no weights can be downloaded on a fresh machine.
#include <cstdint>

#include "model/VitWeights.h"

namespace biasscope::model {

struct RandomVitOptions {
    std::uint64_t seed = 0;
    double weightStd = 0.02;
    double biasStd = 0.02;        // 0 gives exactly zero biases (conservation tests)
    double layerNormNoise = 0.1;  // spread of gamma around 1 and of beta around 0
};

VitModel makeRandomVitModel(const VitConfig& config, const RandomVitOptions& options = {});

// A small config (image 32, patch 8, hidden 32, 2 layers, 4 heads) for tests and demos.
VitConfig tinyVitConfig(std::int64_t numLabels = 5);

}  // namespace biasscope::model
