#pragma once
// Training the models of study 2 (reference-attention-iou.md sections 2 and 6) on CelebAMask-HQ or
// Waterbirds: the training sets of the published runs (all 40 attributes; one-sided; MCC-subsampled)
// and `--train-multiple K` fresh models, each a resumable run of train::trainCnn.
#include <optional>
#include <string>
#include <vector>

#include "common/JobControl.h"
#include "data/AttentionData.h"
#include "train/CnnTrainer.h"

namespace biasscope::attention {

struct AttentionTrainOptions {
    std::string dataset = "waterbirds";  // waterbirds | celeba
    std::string root;
    std::string arch = "resnet18";       // resnet18 | resnet50 | resnet50_extended | efficientnet_v2_s
    std::string init;                    // starting weights (torchvision ImageNet state dict); empty: random init (a labelled deviation)
    std::vector<int> stageBlocks;        // random init of arch "resnet" / "efficientnet_v2": blocks per stage (small models for small data)
    std::vector<std::int64_t> stageWidths;
    int trainMultiple = 1;               // K models, indices firstIndex .. firstIndex + K - 1, seed = seed + index
    int firstIndex = 0;
    // one-sided training (CelebA): drop training images whose `oneSidedTarget` label is 0 (positive) or 1 (negative)
    std::string oneSidedTarget, oneSidedKeep;
    // MCC-subsampled training (CelebA): keep a subset of the training split whose MCC(A, confounder) is the target
    std::string subgroupAttribute, subgroupConfounder = "Male";
    std::optional<double> subgroupMcc;
    std::uint64_t subsampleSeed = 0;
    bool flip = true;                    // false: the published transform (its flip is a no-op)
    train::CnnTrainOptions train;        // lr, epochs, batch size, device, seed (train.outDir / modelPath are set per model)
    std::string outDir;
};

// The training data of one run (the same for every model index).
train::CnnTrainData celebTrainingData(const data::CelebAMaskHQ& d, const AttentionTrainOptions& o);
train::CnnTrainData waterbirdsTrainingData(const data::Waterbirds& d);

struct AttentionTrainResult {
    std::vector<std::string> modelPaths;  // <out>/<dataset>_<arch>_<i>.safetensors
    std::vector<train::CnnTrainResult> runs;
    int alreadyDone = 0;                  // models found complete and not retrained
    std::string dataDescription;
};

// Model i is written to <out>/<dataset>_<arch>_<i>.safetensors once its run (<out>/runs/<name>/)
// has finished; finished models are skipped, an interrupted one resumes.
AttentionTrainResult trainAttentionModels(const AttentionTrainOptions& options, const JobControl& job = {}, const train::TrainCallbacks& callbacks = {});

}  // namespace biasscope::attention
