#pragma once
// Per-epoch training metrics on disk, shared by both trainers: metrics.csv (for people and
// spreadsheets) and the JSON history a resumed run reads back.
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "train/Trainer.h"  // EpochMetrics

namespace biasscope::train {

std::string metricsCsv(const std::vector<EpochMetrics>& history);
nlohmann::json historyJson(const std::vector<EpochMetrics>& history);
std::vector<EpochMetrics> historyFrom(const nlohmann::json& array);  // throws nlohmann::json::exception on a malformed history

}  // namespace biasscope::train
