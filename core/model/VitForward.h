#pragma once
// The differentiable ViT forward used for inference logits and for training: CLS token after the
// final LayerNorm. Gradients flow into every weight tensor that requires grad. (explain/'s traced
// forward records the same computation for relevance; a change here must be mirrored there.)
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/VitWeights.h"

namespace biasscope::model {

at::Tensor vitFeatures(const VitBackbone& backbone, const at::Tensor& pixels);  // [B, 3, H, W] -> [B, D]
// The same forward in stages (GradCAM on a block's output): patch + position embedding [B, T, D];
// blocks [first, last); final LayerNorm of the CLS token.
at::Tensor vitEmbed(const VitBackbone& backbone, const at::Tensor& pixels);
at::Tensor vitBlocks(const VitBackbone& backbone, at::Tensor tokens, std::size_t first, std::size_t last);
// One block split at its first LayerNorm (GradCAM on `ln_1`, as the published code explains
// torchvision ViTs): normed = vitBlockNorm1(h); block output = vitBlockFromNormed(h, normed), where the
// residual stream h bypasses the LayerNorm and the attention reads `normed` only.
at::Tensor vitBlockNorm1(const VitBackbone& backbone, std::size_t block, const at::Tensor& tokens);
at::Tensor vitBlockFromNormed(const VitBackbone& backbone, std::size_t block, const at::Tensor& tokens, const at::Tensor& normed);
at::Tensor vitPool(const VitBackbone& backbone, const at::Tensor& tokens);
at::Tensor headLogits(const ClassifierHead& head, const at::Tensor& features);  // [B, D] -> [B, C]

// Every weight tensor of the backbone, in the HF state-dict order (for optimisers and freezing).
std::vector<at::Tensor*> backboneTensors(VitBackbone& backbone);

}  // namespace biasscope::model
