#pragma once
// GradCAM as the Attention-IoU study computes it (reference-attention-iou.md section 3): the map of
// one scalar per image at the published layer (ResNet layer4[-1], EfficientNet features[-1], a ViT
// block's output tokens on their patch grid), with pytorch-grad-cam's scaling and the repo's
// post-processing, so maps are float32 [B, H, W] in [0, 1] at the input size.
// Only the classifier part above the layer is differentiated (the layer's output is a leaf), so one
// backward pass serves a whole batch.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/CnnModel.h"
#include "model/VitWeights.h"

namespace biasscope::attention {

enum class CamTarget {
    AbsLogit,        // |z_t| (published default for CelebA: explains the predicted side)
    Logit,           // z_t (--positive_scores)
    PredictedClass,  // logit of argmax z (published for Waterbirds; `index` is ignored)
};
CamTarget parseCamTarget(const std::string& s);  // abs | logit | predicted
const char* toString(CamTarget t);

// The output each image's map explains, and the scalar per image (|z|, z or the predicted class's
// logit) from logits [B, C]. Throws InputError for an index out of range or non-finite logits.
at::Tensor camScalar(const at::Tensor& logits, CamTarget target, std::int64_t index, std::vector<std::int64_t>& explained);

struct CamWarning {
    std::int64_t image = 0;  // row in the batch
    std::string message;     // "all-zero GradCAM map (...)"
};

struct CamResult {
    at::Tensor maps;    // [B, H, W] float32 in [0, 1]
    at::Tensor logits;  // [B, classes]
    at::Tensor raw;     // [B, h, w] ReLU(sum_c alpha_c F_c) at layer resolution, before scaling
    std::vector<std::int64_t> explained;  // class explained per image
    std::vector<CamWarning> warnings;     // all-zero or constant maps
};

// pytorch-grad-cam scaling + repo post-processing of raw [B, h, w] maps to [B, H, W]:
// min-max (1e-7), cv::resize INTER_LINEAR, max(., 0), min-max, then A - min, A / (1e-7 + max), clamp.
at::Tensor scaleCam(const at::Tensor& raw, std::int64_t height, std::int64_t width);
// Warnings for raw maps [B, h, w] that are all zero (after ReLU) or constant; `method` names the map.
std::vector<CamWarning> mapWarnings(const at::Tensor& raw, const std::string& method);

// GradCAM from a layer output `features` [B, C, h, w] and the function from it to logits.
CamResult gradCamFromFeatures(const at::Tensor& features, const std::function<at::Tensor(const at::Tensor&)>& head, CamTarget target, std::int64_t index,
                              std::int64_t height, std::int64_t width);

CamResult gradCam(const model::CnnModel& model, const at::Tensor& pixels, CamTarget target, std::int64_t index = 0);

// Patch grid of a ViT token sequence: tokens = prefix + rows * cols.
struct TokenGrid {
    std::int64_t prefix = 0, rows = 0, cols = 0;
};
// With the image size and patch size known: rows = H / patch, cols = W / patch, prefix = the rest
// (CLS, distillation, register tokens: 0..8). With imageHeight = 0: the smallest prefix 0..8 that
// leaves a square number of tokens. Throws InputError when nothing fits.
TokenGrid inferTokenGrid(std::int64_t tokens, std::int64_t imageHeight = 0, std::int64_t imageWidth = 0, std::int64_t patch = 0);

// Where in ViT block `layer` GradCAM reads its feature map:
//   BlockOutput: the block's output tokens (BiasScope's default, at block -2: the last block's patch
//                tokens never reach a CLS-token head);
//   Norm1:       the output of the block's first LayerNorm (torchvision `encoder.layers[L].ln_1`, what the
//                published Attention-IoU code hooks, at L = -1; the residual stream bypasses it).
enum class VitCamSite { BlockOutput, Norm1 };
VitCamSite parseVitCamSite(const std::string& s);  // output | ln1
const char* toString(VitCamSite s);

// GradCAM on ViT block `layer` (0-based; -1 = last) at `site`, prefix tokens dropped, reshaped to the
// inferred grid.
CamResult vitGradCam(const model::VitModel& model, const std::string& head, const at::Tensor& pixels, int layer, CamTarget target, std::int64_t index = 0,
                     VitCamSite site = VitCamSite::BlockOutput);

}  // namespace biasscope::attention
