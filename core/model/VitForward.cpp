#include "model/VitForward.h"

#include <cmath>

#include <torch/types.h>

namespace biasscope::model {

namespace {

at::Tensor linear(const at::Tensor& x, const LinearWeights& w) { return torch::matmul(x, w.weight.t()) + w.bias; }

at::Tensor splitHeads(const at::Tensor& x, std::int64_t heads) {  // [B, N, D] -> [B, H, N, d]
    return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

at::Tensor mergeHeads(const at::Tensor& x) {  // [B, H, N, d] -> [B, N, D]
    return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

}  // namespace

at::Tensor vitEmbed(const VitBackbone& bb, const at::Tensor& pixels) {
    const auto& c = bb.config;
    at::Tensor h = torch::conv2d(pixels, bb.patchProjection.weight, bb.patchProjection.bias, c.patchSize).flatten(2).transpose(1, 2);
    return torch::cat({bb.clsToken.expand({pixels.size(0), 1, c.hiddenSize}), h}, 1) + bb.positionEmbeddings;
}

at::Tensor vitBlockFromNormed(const VitBackbone& bb, std::size_t i, const at::Tensor& h, const at::Tensor& u) {
    const auto& c = bb.config;
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.headDim()));
    const std::vector<std::int64_t> norm{c.hiddenSize};
    const auto& blk = bb.blocks[i];
    const at::Tensor q = splitHeads(linear(u, blk.query), c.numHeads), k = splitHeads(linear(u, blk.key), c.numHeads),
                     v = splitHeads(linear(u, blk.value), c.numHeads);
    const at::Tensor a = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) * scale, -1);
    const at::Tensor r = h + linear(mergeHeads(torch::matmul(a, v)), blk.attentionOutput);
    const at::Tensor w = torch::layer_norm(r, norm, blk.layernormAfter.weight, blk.layernormAfter.bias, c.layerNormEps);
    return r + linear(torch::gelu(linear(w, blk.intermediate)), blk.output);
}

at::Tensor vitBlockNorm1(const VitBackbone& bb, std::size_t i, const at::Tensor& h) {
    const auto& blk = bb.blocks[i];
    return torch::layer_norm(h, {bb.config.hiddenSize}, blk.layernormBefore.weight, blk.layernormBefore.bias, bb.config.layerNormEps);
}

at::Tensor vitBlocks(const VitBackbone& bb, at::Tensor h, std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last && i < bb.blocks.size(); ++i) h = vitBlockFromNormed(bb, i, h, vitBlockNorm1(bb, i, h));
    return h;
}

at::Tensor vitPool(const VitBackbone& bb, const at::Tensor& tokens) {
    const auto& c = bb.config;
    return torch::layer_norm(tokens.select(1, 0), {c.hiddenSize}, bb.finalLayernorm.weight, bb.finalLayernorm.bias, c.layerNormEps);
}

at::Tensor vitFeatures(const VitBackbone& bb, const at::Tensor& pixels) { return vitPool(bb, vitBlocks(bb, vitEmbed(bb, pixels), 0, bb.blocks.size())); }

at::Tensor headLogits(const ClassifierHead& head, const at::Tensor& features) { return linear(features, head.linear); }

std::vector<at::Tensor*> backboneTensors(VitBackbone& bb) {
    std::vector<at::Tensor*> out{&bb.clsToken, &bb.positionEmbeddings, &bb.patchProjection.weight, &bb.patchProjection.bias};
    for (auto& blk : bb.blocks)
        for (LinearWeights* l : {&blk.query, &blk.key, &blk.value, &blk.attentionOutput, &blk.intermediate, &blk.output}) {
            out.push_back(&l->weight);
            out.push_back(&l->bias);
        }
    for (auto& blk : bb.blocks)
        for (LayerNormWeights* n : {&blk.layernormBefore, &blk.layernormAfter}) {
            out.push_back(&n->weight);
            out.push_back(&n->bias);
        }
    out.push_back(&bb.finalLayernorm.weight);
    out.push_back(&bb.finalLayernorm.bias);
    return out;
}

}  // namespace biasscope::model
