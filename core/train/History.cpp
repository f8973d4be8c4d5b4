#include "train/History.h"

#include <algorithm>
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

void reportTrainingStep(const JobControl& job, const TrainCallbacks& cb, int epoch, int epochs, int step, std::size_t steps, double meanLoss, double seen,
                        double seconds, int batchSize, std::size_t trainImages, const std::string& etaNote) {
    const double rate = seen / std::max(seconds, 1e-9);
    if (cb.onStep) cb.onStep(epoch, step, static_cast<int>(steps), meanLoss, rate);
    const double remaining = (static_cast<double>(steps - static_cast<std::size_t>(step)) * batchSize +
                              static_cast<double>(epochs - epoch) * static_cast<double>(trainImages)) / std::max(rate, 1e-9);
    std::ostringstream st;
    st << "epoch " << epoch << "/" << epochs << " step " << step << "/" << steps << " loss " << std::setprecision(4) << meanLoss << ", " << static_cast<int>(rate)
       << " img/s, ETA " << static_cast<long>(remaining) << " s" << etaNote;
    job.report((epoch - 1 + static_cast<double>(step) / static_cast<double>(steps)) / epochs, st.str());
}

}  // namespace biasscope::train
