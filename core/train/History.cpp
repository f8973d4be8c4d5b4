#include "train/History.h"

#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

namespace biasscope::train {

std::string metricsCsv(const std::vector<EpochMetrics>& h) {
    std::ostringstream os;
    os << std::setprecision(10) << "epoch,train_loss,train_acc,val_loss,val_acc,seconds,images_per_s\n";
    for (const auto& e : h)
        os << e.epoch << "," << e.trainLoss << "," << e.trainAcc << "," << e.valLoss << "," << e.valAcc << "," << e.seconds << "," << e.imagesPerSecond << "\n";
    return os.str();
}

nlohmann::json historyJson(const std::vector<EpochMetrics>& h) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& e : h)
        a.push_back({{"epoch", e.epoch}, {"train_loss", e.trainLoss}, {"train_acc", e.trainAcc}, {"val_loss", e.valLoss}, {"val_acc", e.valAcc},
                     {"seconds", e.seconds}, {"images_per_s", e.imagesPerSecond}});
    return a;
}

std::vector<EpochMetrics> historyFrom(const nlohmann::json& a) {
    std::vector<EpochMetrics> h;
    for (const auto& e : a)
        h.push_back({e.at("epoch").get<int>(), e.at("train_loss").get<double>(), e.at("train_acc").get<double>(), e.at("val_loss").get<double>(),
                     e.at("val_acc").get<double>(), e.at("seconds").get<double>(), e.at("images_per_s").get<double>()});
    return h;
}

}  // namespace biasscope::train
