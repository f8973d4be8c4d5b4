#pragma once
// Are the explanations faithful? Region perturbation ("pixel flipping", Samek et al. 2017; the
// evaluation of the AttnLRP paper): the image's patches are removed in the order a map ranks them,
// most relevant first (MoRF) and least relevant first (LeRF), and the target logit is recorded after
// each step. A faithful map makes the logit fall fast under MoRF and slowly under LeRF: the area
// between the two curves (ABPC = area(LeRF) - area(MoRF), over the removed fraction 0..1) is larger.
// A random map is the floor. Maps compared: CP-LRP (published), AttnLRP, CP-LRP + Gamma, GradCAM of a
// block, random. Docs: docs/statistics.md ("Faithfulness").
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "common/JobControl.h"
#include "model/VitWeights.h"

namespace biasscope::explain {

enum class FaithfulnessMap { CpLrp, AttnLrp, CpLrpGamma, GradCam, Random };
const char* toString(FaithfulnessMap m);           // "cp-lrp", "attnlrp", "cp-lrp+gamma", "gradcam", "random"
FaithfulnessMap parseFaithfulnessMap(const std::string& s);
const std::vector<FaithfulnessMap>& allFaithfulnessMaps();

struct FlipOptions {
    int steps = 16;            // the curve has steps + 1 points: 0, 1/steps, ..., all patches removed
    std::uint64_t seed = 1;    // of the random map
    int gradCamLayer = -2;     // block whose output GradCAM reads (BiasScope's ViT default)
    int batch = 17;            // perturbed images per forward pass
};

struct FlipCurve {
    std::vector<double> fraction, logit;  // steps + 1 points; logit of the target after removing that share of patches
    double area = 0;                      // trapezoid over fraction
};

struct FlipResult {
    FaithfulnessMap map;
    FlipCurve morf, lerf;
    double abpc = 0;  // lerf.area - morf.area
};

// The patch scores (map summed over each patch x patch cell) ranked: indices of the patches, most
// relevant first; ties go to the lower index. map: [H, W] with H, W multiples of `patch`.
std::vector<int> rankPatches(const at::Tensor& map, int patch);

// Logit of (head, classIndex) after removing the first m patches of `order` (replaced by 0 in the
// normalised pixel space: the processor's mean colour), for m = round(k * P / steps), k = 0..steps.
FlipCurve flipCurve(const model::VitModel& model, int head, int classIndex, const at::Tensor& pixels, const std::vector<int>& order, int patch,
                    const FlipOptions& options, const JobControl& job = {});

// The map of one kind for one image [1, 3, H, W] and target, [H, W] float (higher = more relevant).
at::Tensor faithfulnessMap(const model::VitModel& model, int head, int classIndex, const at::Tensor& pixels, FaithfulnessMap map, const FlipOptions& options);

// The class the head predicts for one image [1, 3, H, W] (the usual target of pixel flipping).
int predictedClass(const model::VitModel& model, int head, const at::Tensor& pixels);

// Both curves for every map kind asked for; progress per map, cancellable between forward passes.
std::vector<FlipResult> pixelFlipping(const model::VitModel& model, int head, int classIndex, const at::Tensor& pixels, const std::vector<FaithfulnessMap>& maps,
                                      const FlipOptions& options, const JobControl& job = {});

// Over images: the mean curves, mean areas and the mean ABPC with its SEM (ddof 1) per map kind, and
// how many images have ABPC > 0. Every image must have the same maps and steps.
struct FaithfulnessSummary {
    FaithfulnessMap map;
    int images = 0;
    std::vector<double> fraction, morf, lerf;  // mean logit per step
    double morfArea = 0, lerfArea = 0, abpc = 0, abpcSem = 0;
    int positive = 0;
};
std::vector<FaithfulnessSummary> summarizeFaithfulness(const std::vector<std::vector<FlipResult>>& perImage);

// faithfulness_curves.csv (image, map, order, step, fraction, logit), faithfulness_images.csv (image,
// map, morf_area, lerf_area, abpc), faithfulness_summary.csv (the summary) and faithfulness.json
// (settings + summary), atomically, into `dir`. Returns the paths written.
std::vector<std::string> writeFaithfulness(const std::string& dir, const std::vector<std::string>& images, const std::vector<std::vector<FlipResult>>& perImage,
                                           const std::string& settingsJson);

}  // namespace biasscope::explain
