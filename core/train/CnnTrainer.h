#pragma once
// Training of the study-2 CNNs (reference-attention-iou.md section 2):
//   Adam (lr 1e-3, weight decay 1e-4 added to the gradient, as torch.optim.Adam), a fixed number of
//   epochs (10), validation logged every epoch, the model after the last epoch kept (published: no
//   early stopping, no checkpoint selection); the loss is either
//     multi-label BCE with pos_weight (CelebA's 40 attributes; prediction round(sigmoid(z))), or
//     cross-entropy with class weights (Waterbirds, n / (K n_c); prediction argmax).
// BatchNorm trains on batch statistics; dropout and stochastic depth are on (seeded per epoch).
// Every epoch writes <out>/last/ (all weights with the BN statistics, the Adam moments, state.json);
// a cancelled or killed run resumes from there to the same result (CPU, one thread: bitwise).
// Outputs: the model (.safetensors, torchvision keys, labels in the metadata), <out>/metrics.csv,
// <out>/tensorboard/, <out>/result.json.
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "common/JobControl.h"
#include "data/Datasets.h"
#include "data/Transforms.h"
#include "model/CnnModel.h"
#include "train/Trainer.h"  // EpochMetrics, TrainCallbacks

namespace biasscope::train {

enum class CnnLoss { MultiLabelBce, WeightedCrossEntropy };

struct CnnTrainData {
    data::LabelledImages train, val;      // image files; labels: the class (cross-entropy)
    at::Tensor trainTargets, valTargets;  // multi-label BCE: [N, C] float 0/1, rows aligned with the files
    CnnLoss loss = CnnLoss::WeightedCrossEntropy;
    at::Tensor lossWeights;               // pos_weight [C] (BCE) or class weights [K] (cross-entropy)
    std::vector<std::string> outputNames; // the C attributes or K classes (saved as the model's labels)
    std::string descriptionJson = "{}";   // how the training set was chosen (goes to result.json)
};

// pos_weight_c = (1 - p_c) / p_c, p_c the positive rate of column c over `targets` [N, C]; a column
// without positives (or without negatives) is an error naming it.
at::Tensor bcePosWeights(const at::Tensor& targets, const std::vector<std::string>& names);
// Balanced class weights n / (K n_k) (sklearn's "balanced"; published for K = 2); an empty class is an error.
at::Tensor balancedClassWeights(const std::vector<int>& labels, int classes);

// The study's training transform: resize to (size, size), RandomResizedCrop(scale 0.7-1, ratio
// 3/4-4/3), ImageNet normalisation, no colour jitter. `flip`: the horizontal flip the published code
// meant to apply (its flip is a no-op, reference section 11.4: flip = false reproduces it).
data::TransformOptions attentionTrainTransform(int size, bool flip);

struct CnnTrainOptions {
    double lr = 1e-3, weightDecay = 1e-4;
    int batchSize = 64, epochs = 10, workers = 4;
    std::uint64_t seed = 0;
    c10::Device device = c10::Device(c10::kCPU);
    std::string outDir;     // run folder (last/, metrics, result.json)
    std::string modelPath;  // where the final model goes (default <outDir>/model.safetensors)
    data::TransformOptions transform = attentionTrainTransform(224, true);
    std::vector<std::string> deviations;  // departures from the published recipe, written to result.json (the flip is added when on)
};

struct CnnTrainResult {
    std::vector<EpochMetrics> history;  // acc = mean accuracy over the outputs (BCE) or accuracy (CE)
    int resumedAfterEpoch = 0;
    std::string modelPath;
    std::vector<std::pair<std::string, std::string>> unreadable;
};

// The loss of a batch, as published (mean over the batch; weighted mean for cross-entropy).
at::Tensor cnnLoss(const CnnTrainData& data, const at::Tensor& logits, const at::Tensor& targets);

CnnTrainResult trainCnn(const model::CnnModel& init, const CnnTrainData& data, const CnnTrainOptions& options, const JobControl& job = {},
                        const TrainCallbacks& callbacks = {});

}  // namespace biasscope::train
