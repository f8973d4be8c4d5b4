#include "attention/RelevanceMaps.h"

#include <torch/types.h>

#include "common/Error.h"

namespace biasscope::attention {

CamResult lrpMaps(const model::VitModel& m, const at::Tensor& pixels, explain::AttentionRule rule, CamTarget target, std::int64_t index) {
    if (pixels.dim() != 4 || pixels.size(1) != 3) throw InputError("LRP maps: pixels must be [B, 3, H, W]");
    if (m.heads.empty()) throw InputError("LRP maps: the model has no classifier head");
    CamResult r;
    const at::Tensor logits = explain::vitLogits(m, pixels).front().to(torch::kCPU);
    camScalar(logits, target, index, r.explained);  // the explained class per image, as GradCAM picks it (checks the index and finite logits)
    explain::RelevanceOptions ro;
    ro.rule = rule;
    ro.sites.clear();  // only the input heatmap is needed
    ro.accounting = false;
    const std::int64_t B = pixels.size(0), H = pixels.size(2), W = pixels.size(3);
    r.raw = torch::empty({B, H, W}, torch::kFloat32);
    for (std::int64_t b = 0; b < B; ++b) {
        const auto cls = r.explained[static_cast<std::size_t>(b)];
        const auto res = explain::explainBatched(m, pixels.narrow(0, b, 1), {explain::Target{0, static_cast<int>(cls)}}, ro);
        at::Tensor heat = res.inputHeatmap[0].to(torch::kCPU, torch::kFloat32);
        if (target == CamTarget::AbsLogit && logits[b][cls].item<float>() < 0) heat = -heat;
        r.raw[b].copy_(heat);
    }
    // relevance is small in absolute terms: bring each map to max |R| = 1 first, so that GradCAM's 1e-7
    // stabiliser in the min-max scaling stays negligible; then ReLU and min-max as for GradCAM
    const at::Tensor peak = r.raw.abs().amax({1, 2}, true).clamp_min(1e-30);
    r.maps = scaleCam(r.raw / peak, H, W);
    r.logits = logits;
    r.warnings = mapWarnings(r.raw, rule == explain::AttentionRule::CP ? "CP-LRP" : "AttnLRP");
    return r;
}

}  // namespace biasscope::attention
