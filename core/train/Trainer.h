#pragma once
// Fine-tuning of a ViT classifier with the published recipe (method.md section 5) and two more modes:
//   head  (published): backbone frozen, classifier trained on augmented images every epoch;
//   full : everything trained;
//   probe: backbone features computed once (eval transform, no augmentation) and cached on disk,
//          then the classifier fitted on them as linear probes are fitted: L2-regularised logistic
//          regression by full-batch L-BFGS to a gradient tolerance (train/LogisticProbe.h; equal to
//          scikit-learn's LogisticRegression). Not the published recipe: epochs, lr, patience and batch
//          do not apply; C does.
// AdamW (own implementation, same update as torch.optim.AdamW), cross-entropy, early stopping on
// validation accuracy. Checkpoints: <out>/best/ (HF directory: config.json + model.safetensors, loadable
// by `lrp` and by Python) and <out>/last/ (model, optimiser state, state.json) from which an
// interrupted run resumes to the same result as an uninterrupted one (CPU, fixed seed, one thread).
// Metrics: <out>/metrics.csv, <out>/tensorboard/events.out.tfevents.*, <out>/result.json.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "common/JobControl.h"
#include "data/Datasets.h"
#include "data/Transforms.h"
#include "model/VitWeights.h"

namespace biasscope::train {

enum class TrainMode { Head, Full, Probe };
TrainMode parseTrainMode(const std::string& s);  // head | full | probe
const char* toString(TrainMode m);

struct TrainOptions {
    TrainMode mode = TrainMode::Head;
    double lr = 3e-4, weightDecay = 1e-4, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    int batchSize = 128, epochs = 50, patience = 5, workers = 4;
    std::uint64_t seed = 42;
    c10::Device device = c10::Device(c10::kCPU);
    std::string outDir;
    data::TransformOptions transform;  // size is taken from the model config
    bool keepHead = false;             // keep the init checkpoint's classifier when its class count matches
    double probeC = 1.0;               // probe: inverse L2 strength (scikit-learn's C)
    double probeTol = 1e-4;            // probe: gradient tolerance (scikit-learn's tol)
    int probeMaxIter = 1000;           // probe: L-BFGS iterations at most
};

struct EpochMetrics {
    int epoch = 0;  // 1-based
    double trainLoss = 0, trainAcc = 0, valLoss = 0, valAcc = 0, seconds = 0, imagesPerSecond = 0;
};

struct TrainResult {
    std::vector<EpochMetrics> history;
    int bestEpoch = 0;
    double bestValAcc = 0, testLoss = std::nan(""), testAcc = std::nan("");  // NaN: no test split
    bool stoppedEarly = false;
    int resumedAfterEpoch = 0;  // 0: fresh run
    double featureCacheSeconds = 0;
    // probe: the L-BFGS fit (evaluations, max |gradient| at the end, converged)
    int probeEvaluations = 0;
    double probeMaxAbsGradient = 0;
    bool probeConverged = false;
    std::vector<std::pair<std::string, std::string>> unreadable;
    std::string bestDir;
};

// Early stopping as published: a strictly better validation accuracy resets the counter; stop when
// `patience` epochs in a row were not better.
class EarlyStopping {
public:
    explicit EarlyStopping(int patience) : patience_(patience) {}
    bool improved(double valAcc);  // records the epoch; true if it is the new best
    bool shouldStop() const { return bad_ >= patience_; }
    double best() const { return best_; }
    int badEpochs() const { return bad_; }
    void restore(double best, int bad) {
        best_ = best;
        bad_ = bad;
    }

private:
    int patience_;
    double best_ = -1;
    int bad_ = 0;
};

struct TrainCallbacks {
    std::function<void(const EpochMetrics&)> onEpoch;                                      // live plots
    std::function<void(const std::vector<EpochMetrics>&)> onResume;                        // epochs done before a resume
    std::function<void(int epoch, int step, int steps, double loss, double imagesPerSecond)> onStep;
};

// `init`: the starting model (its first head is replaced by a fresh classifier for the data's classes
// unless keepHead and the class count matches). Throws Cancelled after saving <out>/last/.
TrainResult trainClassifier(const model::VitModel& init, const data::DatasetSplits& data, const TrainOptions& options, const JobControl& job = {},
                            const TrainCallbacks& callbacks = {});

}  // namespace biasscope::train
