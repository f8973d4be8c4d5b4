#pragma once
// The scientific checks of the built-in demo: measured on the balanced test split of a built demo
// (study/Demo.h), they say whether the analyses find the bias that was planted:
//  - confidence in the true class drops when the context is feathered away (on the images whose
//    context agrees with the class as in training);
//  - the share of |input relevance| outside the object mask;
//  - the cosine similarity of the context-concept head's relevance (the background the class was
//    paired with in training) to the class head's, per layer at the block output;
//  - Attention-IoU (attention/Scores.h) of the predicted class's map (positive input relevance, the
//    map type "relevance") with the background mask (1 - m) and the object mask.
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/JobControl.h"

namespace biasscope::study {

struct DemoMeasures {
    int images = 0;
    double accuracy = 0, accuracyMasked = 0;
    double confidence = 0, confidenceMasked = 0;  // mean softmax probability of the true class
    // the same on the test images whose background agrees with the class as in the training majority
    // (circle-land, triangle-water), where removing the context takes away a cue a biased model uses,
    // and on the conflicting ones, where it takes away a misleading cue
    int alignedImages = 0, conflictingImages = 0;
    double confidenceAligned = 0, confidenceAlignedMasked = 0, confidenceConflicting = 0, confidenceConflictingMasked = 0;
    // how far the context moves the confidence in the direction of its training pairing: the drop on the
    // aligned images when it is removed minus the drop on the conflicting ones (0: the context is not used)
    double contextEffect() const { return (confidenceAligned - confidenceAlignedMasked) - (confidenceConflicting - confidenceConflictingMasked); }
    double outsideRelevance = 0;                  // mean over images of sum_outside |R| / sum |R|
    double conceptSimilarity = 0;                 // mean over images and layers
    // mean Attention-IoU of the predicted class's map with 1 - m and m. The map is the positive part of
    // the input relevance summed per patch (the ViT's own resolution, as GradCAM works at its layer's
    // resolution), upsampled nearest; the pixel-level map is reported too.
    double iouBackground = 0, iouObject = 0;
    double iouBackgroundPixel = 0, iouObjectPixel = 0;
    double backgroundFraction = 0;                // mean share of background pixels (uniform baseline 4f/(1+3f))
};

DemoMeasures measureDemo(const std::string& demoDir, const JobControl& job = {});

// Every measure by name (context_effect included), e.g. for the kernel-spread tables of docs/demo.md;
// demoMeasuresFromJson reads it back (exact: doubles are written with round-trip precision).
nlohmann::json demoMeasuresJson(const DemoMeasures& m);
DemoMeasures demoMeasuresFromJson(const nlohmann::json& j);

// measureDemo, remembered in <demoDir>/measures.json: keyed on the demo's data key (data/demo-data.json),
// the SHA-256 of both models' weights and the version of the measures' definition, so a rebuilt model or
// a changed definition is measured anew; a damaged file is measured anew and rewritten. The demo tests
// and the CTest fixtures that build the demo models share it (one measurement per model and build).
DemoMeasures measureDemoCached(const std::string& demoDir, const JobControl& job = {});

}  // namespace biasscope::study
