#include "model/RandomVit.h"

#include <torch/types.h>

namespace biasscope::model {

VitConfig tinyVitConfig(std::int64_t numLabels) {
    VitConfig c;
    c.hiddenSize = 32;
    c.numLayers = 2;
    c.numHeads = 4;
    c.intermediateSize = 64;
    c.patchSize = 8;
    c.imageSize = 32;
    c.numLabels = numLabels;
    c.id2label.clear();
    for (std::int64_t i = 0; i < numLabels; ++i) c.id2label.push_back("class_" + std::to_string(i));
    return c;
}

VitModel makeRandomVitModel(const VitConfig& c, const RandomVitOptions& o) {
    c.validate("random ViT config");
    auto gen = at::detail::createCPUGenerator(o.seed);
    auto randn = [&](std::vector<std::int64_t> shape, double stdv) {
        if (stdv == 0) return torch::zeros(shape);
        return (at::normal(0.0, 1.0, shape, gen).clamp(-2.0, 2.0) * stdv).to(torch::kFloat32);
    };
    const std::int64_t D = c.hiddenSize, I = c.intermediateSize;
    auto lin = [&](std::int64_t out, std::int64_t in) { return LinearWeights{randn({out, in}, o.weightStd), randn({out}, o.biasStd)}; };
    auto ln = [&]() {
        return LayerNormWeights{(1.0 + randn({D}, o.layerNormNoise)).to(torch::kFloat32), randn({D}, o.biasStd == 0 ? 0 : o.layerNormNoise)};
    };
    VitModel m;
    auto& b = m.backbone;
    b.config = c;
    b.clsToken = randn({1, 1, D}, o.weightStd);
    b.positionEmbeddings = randn({1, c.numTokens(), D}, o.weightStd);
    b.patchProjection = {randn({D, c.numChannels, c.patchSize, c.patchSize}, o.weightStd), randn({D}, o.biasStd)};
    for (std::int64_t l = 0; l < c.numLayers; ++l) {
        VitBlockWeights blk;
        blk.layernormBefore = ln();
        blk.query = lin(D, D);
        blk.key = lin(D, D);
        blk.value = lin(D, D);
        blk.attentionOutput = lin(D, D);
        blk.layernormAfter = ln();
        blk.intermediate = lin(I, D);
        blk.output = lin(D, I);
        b.blocks.push_back(std::move(blk));
    }
    b.finalLayernorm = ln();
    ClassifierHead h;
    h.name = "classifier";
    h.linear = lin(c.numLabels, D);
    h.labels = c.id2label;
    h.sourcePath = "random(seed=" + std::to_string(o.seed) + ")";
    m.heads.push_back(std::move(h));
    return m;
}

}  // namespace biasscope::model
