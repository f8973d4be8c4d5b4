#pragma once
// The on-disk layout of one image's relevance (safetensors, readable by numpy/safetensors in Python):
//   logits [C], probabilities [C]                       of the explained head
//   <class>/input [H, W]                                input heatmap (sum over RGB of x * grad)
//   <class>/<site> [layers, features]                   per-neuron vector (sum over tokens)
//   <class>/<site>_tokens [layers, tokens]              per-token vector (sum over features)
// plus __metadata__ with rule, readout, sites, model file, its SHA-256, image file and deviations
// from the published method.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "explain/RelevanceEngine.h"

namespace biasscope::explain {

struct ExportProvenance {
    std::string modelFile, modelSha256, imageFile, imageSha256, device;
};

std::vector<std::pair<std::string, at::Tensor>> relevanceTensors(const RelevanceResult& result, int head);

// Appends "<prefix>input", "<prefix><site>" and "<prefix><site>_tokens" of target t (float32, CPU).
void appendTargetTensors(const RelevanceResult& result, std::size_t t, const std::string& prefix,
                         std::vector<std::pair<std::string, at::Tensor>>& out);
std::map<std::string, std::string> relevanceMetadata(const RelevanceOptions& options, const ExportProvenance& provenance,
                                                     const model::VitModel& model, int head);

// Labels of every way this run differs from the published pipeline (method.md section 6).
std::vector<std::string> deviationsFromPublished(const RelevanceOptions& options);

}  // namespace biasscope::explain
