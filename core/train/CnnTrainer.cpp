#include "train/CnnTrainer.h"

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "common/Error.h"
#include "data/BatchLoader.h"
#include "io/AtomicFile.h"
#include "io/Sha256.h"
#include "train/Adam.h"
#include "train/History.h"
#include "train/TfEvents.h"

namespace biasscope::train {

namespace fs = std::filesystem;

at::Tensor bcePosWeights(const at::Tensor& targets, const std::vector<std::string>& names) {
    if (targets.dim() != 2 || targets.size(0) == 0) throw InputError("BCE weights need a non-empty [N, C] target table");
    const at::Tensor pos = targets.to(torch::kFloat64).mean(0);
    for (std::int64_t c = 0; c < pos.size(0); ++c) {
        const double p = pos[c].item<double>();
        const std::string name = c < static_cast<std::int64_t>(names.size()) ? names[static_cast<std::size_t>(c)] : "column " + std::to_string(c);
        if (p <= 0 || p >= 1)
            throw InputError("attribute '" + name + "' is " + (p <= 0 ? "never" : "always") + " positive in the training split; its pos_weight (1-p)/p is undefined");
    }
    return ((1 - pos) / pos).to(torch::kFloat32);
}

at::Tensor balancedClassWeights(const std::vector<int>& labels, int classes) {
    std::vector<double> n(static_cast<std::size_t>(classes), 0.0);
    for (int y : labels) {
        if (y < 0 || y >= classes) throw InputError("label " + std::to_string(y) + " outside 0.." + std::to_string(classes - 1));
        n[static_cast<std::size_t>(y)] += 1;
    }
    std::vector<float> w;
    for (int k = 0; k < classes; ++k) {
        if (n[static_cast<std::size_t>(k)] == 0) throw InputError("class " + std::to_string(k) + " has no training images; class weights are undefined");
        w.push_back(static_cast<float>(static_cast<double>(labels.size()) / (classes * n[static_cast<std::size_t>(k)])));
    }
    return torch::tensor(w);
}

data::TransformOptions attentionTrainTransform(int size, bool flip) {
    data::TransformOptions t;
    t.size = size;
    t.scaleMin = 0.7;
    t.scaleMax = 1.0;
    t.ratioMin = 3.0 / 4.0;
    t.ratioMax = 4.0 / 3.0;
    t.flip = flip ? 0.5 : 0.0;
    t.brightness = t.contrast = t.saturation = t.hue = 0;
    t.channelMean = {0.485, 0.456, 0.406};
    t.channelStd = {0.229, 0.224, 0.225};
    t.squareResize = true;
    return t;
}

at::Tensor cnnLoss(const CnnTrainData& d, const at::Tensor& logits, const at::Tensor& targets) {
    const at::Tensor w = d.lossWeights.defined() ? d.lossWeights.to(logits.device()) : at::Tensor();
    if (d.loss == CnnLoss::MultiLabelBce) return torch::binary_cross_entropy_with_logits(logits, targets, {}, w, at::Reduction::Mean);
    return torch::nll_loss(torch::log_softmax(logits, 1), targets, w, at::Reduction::Mean);
}

namespace {

// number of correct predictions (BCE: correct attribute decisions) and of decisions
std::pair<double, double> correctCount(const CnnTrainData& d, const at::Tensor& logits, const at::Tensor& targets) {
    if (d.loss == CnnLoss::MultiLabelBce)
        return {logits.gt(0).eq(targets.gt(0.5)).sum().item<double>(), static_cast<double>(targets.numel())};
    return {logits.argmax(1).eq(targets).sum().item<double>(), static_cast<double>(targets.size(0))};
}

at::Tensor batchTargets(const CnnTrainData& d, const data::Batch& b, const at::Tensor& table, const c10::Device& device) {
    if (d.loss == CnnLoss::WeightedCrossEntropy) return b.labels.to(device);
    std::vector<std::int64_t> idx(b.indices.begin(), b.indices.end());
    return table.index_select(0, torch::tensor(idx, torch::kInt64)).to(device);
}

data::LoaderOptions loaderOptions(const CnnTrainOptions& o, bool train, std::uint64_t epoch) {
    return data::epochLoaderOptions(train, o.batchSize, o.workers, o.seed, epoch, o.transform, o.device.is_cuda());
}

bool isStatistic(const std::string& k) {
    return k.find(".running_mean") != std::string::npos || k.find(".running_var") != std::string::npos || k.find(".num_batches_tracked") != std::string::npos;
}

std::string optionsKey(const model::CnnModel& init, const CnnTrainData& d, const CnnTrainOptions& o) {
    nlohmann::json j;
    j["lr"] = o.lr;
    j["wd"] = o.weightDecay;
    j["batch"] = o.batchSize;
    j["seed"] = o.seed;
    const auto& t = o.transform;
    j["transform"] = {t.size, t.scaleMin, t.scaleMax, t.ratioMin, t.ratioMax, t.flip, t.channelMean, t.channelStd, t.squareResize};
    j["loss"] = d.loss == CnnLoss::MultiLabelBce ? "bce" : "ce";
    j["outputs"] = d.outputNames;
    double initSum = 0;
    for (const auto& [k, w] : init.weights) initSum += w.to(torch::kFloat64).abs().sum().item<double>();
    j["init"] = {init.arch, init.weights.size(), initSum};
    std::string files;
    for (const auto* s : {&d.train, &d.val})
        for (std::size_t i = 0; i < s->size(); ++i) files += s->files[i] + ":" + std::to_string(s->labels[i]) + ";";
    j["data"] = io::sha256Hex(files);
    return io::sha256Hex(j.dump()).substr(0, 16);
}


}  // namespace

CnnTrainResult trainCnn(const model::CnnModel& init, const CnnTrainData& data, const CnnTrainOptions& o, const JobControl& job, const TrainCallbacks& cb) {
    if (o.outDir.empty()) throw InputError("training needs an output folder");
    if (data.train.size() == 0 || data.val.size() == 0) throw InputError("training needs non-empty train and validation splits");
    if (o.epochs < 1) throw InputError("training needs at least one epoch");
    const auto outputs = static_cast<std::int64_t>(data.outputNames.size());
    if (init.numClasses != outputs)
        throw InputError(init.source + ": the model has " + std::to_string(init.numClasses) + " outputs, the data " + std::to_string(outputs) +
                         " (give the model a new head for these outputs)");
    if (data.loss == CnnLoss::MultiLabelBce) {
        if (!data.trainTargets.defined() || data.trainTargets.size(0) != static_cast<std::int64_t>(data.train.size()) || data.trainTargets.size(1) != outputs ||
            !data.valTargets.defined() || data.valTargets.size(0) != static_cast<std::int64_t>(data.val.size()))
            throw InputError("multi-label training needs [N, C] target tables aligned with the train and validation files");
    }
    CnnTrainResult r;
    r.modelPath = o.modelPath.empty() ? (fs::path(o.outDir) / "model.safetensors").string() : o.modelPath;
    fs::create_directories(o.outDir);
    const std::string key = optionsKey(init, data, o);

    model::CnnModel m = init.to(o.device);  // own copies of every tensor
    m.labels = data.outputNames;
    std::vector<std::string> trainableKeys;
    for (auto& [k, t] : m.weights)
        if (!isStatistic(k)) trainableKeys.push_back(k);
    Adam opt;
    opt.lr = o.lr;
    opt.wd = o.weightDecay;
    for (const auto& k : trainableKeys) {
        m.weights[k].set_requires_grad(true);
        opt.params.push_back(&m.weights[k]);
    }
    opt.init();

    const fs::path last = fs::path(o.outDir) / "last";
    io::removeStaleTemporaries(o.outDir);
    int startEpoch = 1;
    if (const auto resume = readResumePoint(last.string(), key)) {
        const nlohmann::json& st = resume->state;
        const auto get = [&](const std::string& k) -> const at::Tensor& { return resume->tensor(k); };
        {
            torch::NoGradGuard ng;
            for (auto& [k, w] : m.weights) w.copy_(get("w/" + k));
        }
        opt.restoreState(get, st.at("adam_step").get<std::int64_t>());
        r.history = historyFrom(st.at("history"));
        startEpoch = st.at("epoch").get<int>() + 1;
        r.resumedAfterEpoch = startEpoch - 1;
        if (cb.onResume) cb.onResume(r.history);
    }

    auto addUnreadable = [&](const data::BatchLoader& loader) {
        for (const auto& u : loader.unreadable())
            if (std::find(r.unreadable.begin(), r.unreadable.end(), u) == r.unreadable.end()) r.unreadable.push_back(u);
    };
    TfEventsWriter tb((fs::path(o.outDir) / "tensorboard").string());
    for (int epoch = startEpoch; epoch <= o.epochs; ++epoch) {
        const auto t0 = std::chrono::steady_clock::now();
        torch::manual_seed(o.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));  // dropout / stochastic depth: per epoch, so a resume replays it
        double lossSum = 0, correct = 0, decisions = 0, seen = 0;
        {
            data::BatchLoader loader(data.train, loaderOptions(o, true, static_cast<std::uint64_t>(epoch)));
            int k = 0;
            while (auto b = loader.next()) {
                job.checkCancelled();
                ++k;
                if (b->labels.numel() == 0) continue;
                const at::Tensor x = b->pixels.to(o.device, true);
                const at::Tensor y = batchTargets(data, *b, data.trainTargets, o.device);
                const at::Tensor logits = model::cnnLogits(m, x, true);
                const at::Tensor loss = cnnLoss(data, logits, y);
                loss.backward();
                opt.update();
                const double n = static_cast<double>(x.size(0));
                lossSum += loss.item<double>() * n;
                const auto [c, dn] = correctCount(data, logits.detach(), y);
                correct += c;
                decisions += dn;
                seen += n;
                reportTrainingStep(job, cb, epoch, o.epochs, k, loader.batches(), lossSum / seen, seen,
                                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), o.batchSize, data.train.size());
            }
            addUnreadable(loader);
        }
        if (seen == 0) throw InputError("the training split has no readable images");
        EpochMetrics em;
        em.epoch = epoch;
        em.trainLoss = lossSum / seen;
        em.trainAcc = correct / decisions;
        {  // validation: logged only (published)
            data::BatchLoader loader(data.val, loaderOptions(o, false, 0));
            torch::NoGradGuard ng;
            double vl = 0, vc = 0, vd = 0, vn = 0;
            while (auto b = loader.next()) {
                job.checkCancelled();
                if (b->labels.numel() == 0) continue;
                const at::Tensor y = batchTargets(data, *b, data.valTargets, o.device);
                const at::Tensor logits = model::cnnLogits(m, b->pixels.to(o.device, true), false);
                const double n = static_cast<double>(y.size(0));
                vl += cnnLoss(data, logits, y).item<double>() * n;
                const auto [c, dn] = correctCount(data, logits, y);
                vc += c;
                vd += dn;
                vn += n;
            }
            addUnreadable(loader);
            if (vn == 0) throw InputError("the validation split has no readable images");
            em.valLoss = vl / vn;
            em.valAcc = vc / vd;
        }
        em.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        em.imagesPerSecond = seen / std::max(em.seconds, 1e-9);
        r.history.push_back(em);

        // checkpoint (tensors first, then the state that points at them; both atomic)
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        for (const auto& [k, w] : m.weights) tensors.emplace_back("w/" + k, w.detach().to(torch::kCPU).contiguous());
        opt.appendState(tensors);
        writeResumePoint(last.string(), tensors, "biasscope.cnn-train-checkpoint.v1",
                         {{"options_key", key}, {"epoch", epoch}, {"adam_step", opt.step}, {"history", historyJson(r.history)}});
        io::writeFileAtomically((fs::path(o.outDir) / "metrics.csv").string(), metricsCsv(r.history));
        tb.addScalar("Loss/Train", epoch, static_cast<float>(em.trainLoss));
        tb.addScalar("Accuracy/Train", epoch, static_cast<float>(em.trainAcc));
        tb.addScalar("Loss/Eval", epoch, static_cast<float>(em.valLoss));
        tb.addScalar("Accuracy/Eval", epoch, static_cast<float>(em.valAcc));
        tb.flush();
        if (cb.onEpoch) cb.onEpoch(em);
    }

    // the model after the last epoch (published)
    model::CnnModel out = m.to(c10::Device(c10::kCPU));
    for (auto& [k, w] : out.weights) w = w.detach();
    fs::create_directories(fs::path(r.modelPath).parent_path());
    const std::string tmp = r.modelPath + ".partial";
    model::saveCnnModel(out, tmp);
    fs::rename(tmp, r.modelPath);
    std::string un;
    for (const auto& [f, why] : r.unreadable) un += f + "\t" + why + "\n";
    io::writeFileAtomically((fs::path(o.outDir) / "unreadable.txt").string(), un);
    nlohmann::json res{{"model", r.modelPath},
                       {"arch", init.arch},
                       {"init", init.source},
                       {"loss", data.loss == CnnLoss::MultiLabelBce ? "multi-label BCE with pos_weight" : "class-weighted cross-entropy"},
                       {"optimizer", {{"name", "Adam (L2 weight decay, torch.optim.Adam)"}, {"lr", o.lr}, {"weight_decay", o.weightDecay}}},
                       {"epochs", o.epochs},
                       {"batch_size", o.batchSize},
                       {"seed", o.seed},
                       {"horizontal_flip", o.transform.flip > 0},
                       {"history", historyJson(r.history)},
                       {"train_images", data.train.size()},
                       {"val_images", data.val.size()},
                       {"unreadable_images", r.unreadable.size()},
                       {"data", nlohmann::json::parse(data.descriptionJson)},
                       {"options_key", key}};
    std::vector<std::string> deviations = o.deviations;
    if (o.transform.flip > 0) deviations.push_back("horizontal flip applied (p = 0.5): the published transform discards its flip (reference section 11.4)");
    res["deviations"] = deviations;
    io::writeFileAtomically((fs::path(o.outDir) / "metrics.csv").string(), metricsCsv(r.history));  // as in Trainer.cpp
    io::writeFileAtomically((fs::path(o.outDir) / "result.json").string(), res.dump(2));
    return r;
}

}  // namespace biasscope::train
