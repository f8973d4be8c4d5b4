#pragma once
// The second map type of study 2: LRP input heatmaps of a ViT (AttnLRP or CP-LRP, the engine of
// study 1) in place of GradCAM. Per image the explained output is chosen as for GradCAM (|z_t|,
// z_t or the predicted class); for |z_t| the relevance of z_t is multiplied by sign(z_t) (LRP is
// linear in the relevance put on the output). The map is the positive part of the pixel relevance
// summed over RGB, min-max scaled to [0, 1] like a GradCAM map; negative evidence is dropped, as
// GradCAM's ReLU drops it (a labelled choice: Attention-IoU needs non-negative maps).
#include <cstdint>

#include <ATen/core/Tensor.h>

#include "attention/GradCam.h"
#include "explain/RelevanceEngine.h"
#include "model/VitWeights.h"

namespace biasscope::attention {

// pixels [B, 3, H, W] preprocessed for the model; the first head is explained. Result: maps [B, H, W]
// in [0, 1], raw = the signed relevance [B, H, W], logits, explained classes, warnings.
CamResult lrpMaps(const model::VitModel& model, const at::Tensor& pixels, explain::AttentionRule rule, CamTarget target, std::int64_t index = 0);

}  // namespace biasscope::attention
