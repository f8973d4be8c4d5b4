#pragma once
// What both trainers keep on disk per epoch: metrics.csv (for people and spreadsheets), the JSON
// history, and the resume point <out>/last/ (state.json + the checkpoint-e<N>.safetensors it names).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "common/JobControl.h"
#include "train/Trainer.h"  // EpochMetrics, TrainCallbacks

namespace biasscope::train {

std::string metricsCsv(const std::vector<EpochMetrics>& history);
nlohmann::json historyJson(const std::vector<EpochMetrics>& history);
std::vector<EpochMetrics> historyFrom(const nlohmann::json& array);  // throws nlohmann::json::exception on a malformed history

// The resume point of a run in `lastDir` (<out>/last), if there is one. A state written with another
// options key is an error naming the file (another run's folder is never continued).
struct ResumePoint {
    nlohmann::json state;
    std::map<std::string, at::Tensor> tensors;
    std::string checkpointPath;
    const at::Tensor& tensor(const std::string& key) const;  // throws InputError naming the checkpoint and the key
};
std::optional<ResumePoint> readResumePoint(const std::string& lastDir, const std::string& optionsKey);
// Writes the resume point: the tensors first (checkpoint-e<epoch>.safetensors), then the state that names them
// with their SHA-256 (both atomic; the state's rename commits the pair), so an interrupted write leaves the
// previous epoch's point. `state` must hold "options_key" and "epoch".
void writeResumePoint(const std::string& lastDir, const std::vector<std::pair<std::string, at::Tensor>>& tensors, const std::string& format,
                      const nlohmann::json& state);

// Progress of one training step (1-based `step` of `steps`): the step callback and the job's line
// "epoch e/E step s/S loss L, R img/s, ETA T s" (+ `etaNote`), from `seen` images in `seconds`.
void reportTrainingStep(const JobControl& job, const TrainCallbacks& cb, int epoch, int epochs, int step, std::size_t steps, double meanLoss, double seen,
                        double seconds, int batchSize, std::size_t trainImages, const std::string& etaNote = "");

}  // namespace biasscope::train
