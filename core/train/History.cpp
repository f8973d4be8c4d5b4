#include "train/History.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/Error.h"
#include "io/AtomicFile.h"
#include "io/JsonFile.h"
#include "io/Safetensors.h"
#include "io/Sha256.h"

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

const at::Tensor& ResumePoint::tensor(const std::string& key) const {
    auto it = tensors.find(key);
    if (it == tensors.end()) throw InputError(checkpointPath + ": missing tensor '" + key + "'");
    return it->second;
}

namespace {

// Checkpoints the state does not name: older epochs, or one written by a run killed before its state
void removeUncommittedCheckpoints(const std::string& lastDir, const std::string& keep) {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(lastDir, ec)) {
        const std::string f = e.path().filename().string();
        if (f != keep && f.rfind("checkpoint", 0) == 0 && e.path().extension() == ".safetensors") fs::remove(e.path(), ec);
    }
}

}  // namespace

std::optional<ResumePoint> readResumePoint(const std::string& lastDir, const std::string& optionsKey) {
    namespace fs = std::filesystem;
    const fs::path stateFile = fs::path(lastDir) / "state.json";
    if (!fs::exists(stateFile)) return std::nullopt;
    ResumePoint r;
    r.state = io::readJsonFile(stateFile.string(), "training state");
    if (!r.state.is_object() || r.state.value("options_key", "") != optionsKey)
        throw InputError(stateFile.string() + ": this output folder holds a run with other options, data or initial model; use another output folder (--out)");
    for (const char* k : {"epoch", "adam_step", "history"})
        if (!r.state.contains(k)) throw InputError(stateFile.string() + ": damaged training state ('" + std::string(k) + "' missing); remove " + lastDir + " to start over");
    try {
        (void)historyFrom(r.state.at("history"));
        (void)r.state.at("epoch").get<int>();
        (void)r.state.at("adam_step").get<std::int64_t>();
    } catch (const nlohmann::json::exception&) {
        throw InputError(stateFile.string() + ": damaged training state (epoch, adam_step or history malformed); remove " + lastDir + " to start over");
    }
    // the state names the checkpoint it commits (older states: checkpoint.safetensors) and its hash
    r.checkpointPath = (fs::path(lastDir) / r.state.value("checkpoint", std::string("checkpoint.safetensors"))).string();
    if (r.state.contains("checkpoint_sha256") && io::sha256FileHex(r.checkpointPath) != r.state.value("checkpoint_sha256", std::string()))
        throw InputError(r.checkpointPath + ": not the checkpoint " + stateFile.string() + " commits (SHA-256 differs); remove " + lastDir + " to start over");
    auto rec = io::readSafetensors(r.checkpointPath);
    r.tensors.insert(rec.tensors.begin(), rec.tensors.end());
    removeUncommittedCheckpoints(lastDir, fs::path(r.checkpointPath).filename().string());
    return r;
}

void writeResumePoint(const std::string& lastDir, const std::vector<std::pair<std::string, at::Tensor>>& tensors, const std::string& format,
                      const nlohmann::json& state) {
    namespace fs = std::filesystem;
    fs::create_directories(lastDir);
    // checkpoint-e<epoch>.safetensors, then state.json naming it and its hash: the rename of state.json commits
    // both together. A kill before it leaves the previous state and its (still present) checkpoint.
    const std::string name = "checkpoint-e" + std::to_string(state.at("epoch").get<int>()) + ".safetensors";
    const std::string path = (fs::path(lastDir) / name).string();
    io::writeSafetensors(path, tensors, {{"format", format}});
    nlohmann::json committed = state;
    committed["checkpoint"] = name;
    committed["checkpoint_sha256"] = io::sha256FileHex(path);
    io::writeFileAtomically((fs::path(lastDir) / "state.json").string(), committed.dump(2));
    removeUncommittedCheckpoints(lastDir, name);
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
