#pragma once
// Read access to a study store (docs/study-format.md) for the explorer: the images of every set with
// their confidence (read from the records' headers and one tensor each, not the whole store), any
// record's tensors on demand, and one neuron's relevance across all images (the [images, layers,
// features] block of a target and site is read once and kept). Values are normalised as the
// analysis normalises them: each layer's vector divided by its absolute maximum.
#include <map>
#include <optional>
#include <mutex>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "common/JobControl.h"
#include "study/StudyDefinition.h"

namespace biasscope::study {

struct StoreImage {
    std::string set, condition, stem, imageFile, record;
    double confidence = 0;
};

struct NeuronProfile {
    std::vector<float> value;  // per image: normalised value of the neuron in its layer
    std::vector<int> rank;     // per image: 1-based rank of the neuron by |value| within its layer
};

// Where one target's logit went (records store "<target>/accounting" = [logit, pixels, CLS, position,
// biases]): gap = logit - (pixels + CLS + position + biases); CP-LRP without Gamma conserves it (gap ~ 0).
struct Conservation {
    double logit = 0, pixels = 0, cls = 0, position = 0, biases = 0, gap = 0, relativeGap = 0;  // relativeGap = |gap| / |logit|
};
Conservation conservationOf(const std::vector<double>& accounting);  // the 5 values; throws InputError otherwise

class StudyStore {
public:
    // Throws InputError naming the folder (no study.json, no record at all, ...). A record that cannot be
    // read (truncated, corrupt, NaN confidence) is left out and listed in skipped(): one bad file of a
    // large store does not hide the rest (`study analyze` still refuses such a store).
    explicit StudyStore(const std::string& storeDir, const JobControl& job = {});

    const StudyDefinition& study() const { return study_; }
    const std::string& dir() const { return dir_; }
    const std::vector<StoreImage>& images() const { return images_; }
    const std::vector<std::string>& skipped() const { return skipped_; }  // "<record>: <reason>", one per record left out
    std::vector<std::string> targetNames() const;
    std::vector<std::string> siteNames() const;
    std::vector<std::string> setNames() const;
    // One record's tensor: "<target>/input" [H, W], "<target>/<site>" [layers, features],
    // "<target>/<site>_tokens" [layers, tokens], "confidence", "logits/<head>".
    at::Tensor tensor(std::size_t image, const std::string& key) const;
    // The target's accounting in image's record; nullopt for records stored before it was kept.
    std::optional<Conservation> conservation(std::size_t image, const std::string& target) const;
    // [layers, features] of one image, normalised per layer (abs max 1).
    at::Tensor normalisedNeurons(std::size_t image, const std::string& target, const std::string& site) const;
    // One neuron across every image (the target/site block is read on first use).
    NeuronProfile neuron(const std::string& target, const std::string& site, int layer, int feature) const;
    // Images whose top-k (by |value|) of `layer` contains `feature`.
    std::vector<std::size_t> imagesWithNeuronInTopK(const std::string& target, const std::string& site, int layer, int feature, int k) const;

private:
    const at::Tensor& block(const std::string& target, const std::string& site) const;  // [N, L, F] normalised

    std::string dir_;
    StudyDefinition study_;
    std::vector<StoreImage> images_;
    std::vector<std::string> skipped_;
    mutable std::mutex mutex_;
    mutable std::map<std::string, at::Tensor> blocks_;
};

}  // namespace biasscope::study
