#pragma once
// Per-epoch training metrics on disk, shared by both trainers: metrics.csv (for people and
// spreadsheets) and the JSON history a resumed run reads back.
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/JobControl.h"
#include "train/Trainer.h"  // EpochMetrics, TrainCallbacks

namespace biasscope::train {

std::string metricsCsv(const std::vector<EpochMetrics>& history);
nlohmann::json historyJson(const std::vector<EpochMetrics>& history);
std::vector<EpochMetrics> historyFrom(const nlohmann::json& array);  // throws nlohmann::json::exception on a malformed history

// Progress of one training step (1-based `step` of `steps`): the step callback and the job's line
// "epoch e/E step s/S loss L, R img/s, ETA T s" (+ `etaNote`), from `seen` images in `seconds`.
void reportTrainingStep(const JobControl& job, const TrainCallbacks& cb, int epoch, int epochs, int step, std::size_t steps, double meanLoss, double seen,
                        double seconds, int batchSize, std::size_t trainImages, const std::string& etaNote = "");

}  // namespace biasscope::train
