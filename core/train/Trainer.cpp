#include "train/Trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "common/Error.h"
#include "data/BatchLoader.h"
#include "io/AtomicFile.h"
#include "io/Safetensors.h"
#include "io/Sha256.h"
#include "model/VitForward.h"
#include "train/Adam.h"
#include "train/History.h"
#include "train/LogisticProbe.h"
#include "train/TfEvents.h"

namespace biasscope::train {

namespace fs = std::filesystem;

TrainMode parseTrainMode(const std::string& s) {
    if (s == "head") return TrainMode::Head;
    if (s == "full") return TrainMode::Full;
    if (s == "probe") return TrainMode::Probe;
    throw InputError("--mode " + s + ": expected head, full or probe");
}

const char* toString(TrainMode m) { return m == TrainMode::Head ? "head" : m == TrainMode::Full ? "full" : "probe"; }

bool EarlyStopping::improved(double valAcc) {
    if (valAcc > best_) {
        best_ = valAcc;
        bad_ = 0;
        return true;
    }
    ++bad_;
    return false;
}

namespace {

std::string optionsKey(const TrainOptions& o, const data::DatasetSplits& d, const std::string& initKey) {
    nlohmann::json j;
    j["mode"] = toString(o.mode);
    j["lr"] = o.lr;
    j["wd"] = o.weightDecay;
    j["betas"] = {o.beta1, o.beta2, o.eps};
    j["batch"] = o.batchSize;
    j["seed"] = o.seed;
    j["init"] = initKey;
    j["keep_head"] = o.keepHead;
    if (o.mode == TrainMode::Probe) j["probe"] = {{"solver", "lbfgs"}, {"C", o.probeC}, {"tol", o.probeTol}, {"max_iter", o.probeMaxIter}};
    const auto& t = o.transform;
    j["transform"] = {t.size, t.scaleMin, t.scaleMax, t.ratioMin, t.ratioMax, t.flip, t.brightness, t.contrast, t.saturation, t.hue, t.mean, t.std};
    std::string files;
    for (const auto* s : {&d.train, &d.val, &d.test})
        for (std::size_t i = 0; i < s->size(); ++i) files += s->files[i] + ":" + std::to_string(s->labels[i]) + ";";
    j["data"] = io::sha256Hex(files);
    return io::sha256Hex(j.dump()).substr(0, 16);
}

// training (augmented, shuffled per epoch) or evaluation (eval transform, file order) batches
data::LoaderOptions loaderOptions(const TrainOptions& o, bool train, std::uint64_t epoch) {
    return data::epochLoaderOptions(train, o.batchSize, o.workers, o.seed, epoch, o.transform, o.device.is_cuda());
}

struct Features {
    at::Tensor x;  // [N, D] on the device
    at::Tensor y;  // [N]
};

// Backbone features of a split with the eval transform (frozen backbone): cached on disk by key.
Features computeFeatures(const model::VitModel& m, const data::LabelledImages& split, const TrainOptions& o, const std::string& cacheFile, TrainResult& r,
                         const JobControl& job, const std::string& name) {
    if (fs::exists(cacheFile)) {
        try {
            auto rec = io::readSafetensors(cacheFile);
            std::map<std::string, at::Tensor> t(rec.tensors.begin(), rec.tensors.end());
            return {t.at("features").to(o.device), t.at("labels").to(o.device)};
        } catch (const std::exception&) {
            // unreadable cache: recompute it
        }
    }
    data::BatchLoader loader(split, loaderOptions(o, false, 0));
    std::vector<at::Tensor> xs, ys;
    torch::NoGradGuard ng;
    std::size_t done = 0;
    while (auto b = loader.next()) {
        job.checkCancelled();
        ++done;
        job.report(0, "features (" + name + "): batch " + std::to_string(done) + "/" + std::to_string(loader.batches()));
        if (b->labels.numel() == 0) continue;
        xs.push_back(model::vitFeatures(m.backbone, b->pixels.to(o.device, true)));
        ys.push_back(b->labels.to(o.device));
    }
    for (const auto& u : loader.unreadable()) r.unreadable.push_back(u);
    if (xs.empty()) throw InputError("split '" + name + "' has no readable images");
    Features f{torch::cat(xs), torch::cat(ys)};
    fs::create_directories(fs::path(cacheFile).parent_path());
    io::writeSafetensors(cacheFile, {{"features", f.x.to(torch::kCPU).contiguous()}, {"labels", f.y.to(torch::kCPU)}}, {{"format", "biasscope.feature-cache.v1"}});
    return f;
}

struct Eval {
    double loss = 0, acc = 0;
};

Eval evalOnFeatures(const model::ClassifierHead& head, const Features& f, int batch) {
    torch::NoGradGuard ng;
    double loss = 0, correct = 0;
    const std::int64_t n = f.x.size(0);
    for (std::int64_t s = 0; s < n; s += batch) {
        const std::int64_t len = std::min<std::int64_t>(batch, n - s);
        const at::Tensor logits = model::headLogits(head, f.x.narrow(0, s, len));
        const at::Tensor y = f.y.narrow(0, s, len);
        loss += torch::nll_loss(torch::log_softmax(logits, 1), y, {}, at::Reduction::Sum).item<double>();
        correct += logits.argmax(1).eq(y).sum().item<double>();
    }
    return {loss / static_cast<double>(n), correct / static_cast<double>(n)};
}

Eval evalOnImages(const model::VitModel& m, const data::LabelledImages& split, const TrainOptions& o, TrainResult& r, const JobControl& job) {
    data::BatchLoader loader(split, loaderOptions(o, false, 0));
    torch::NoGradGuard ng;
    double loss = 0, correct = 0, n = 0;
    while (auto b = loader.next()) {
        job.checkCancelled();
        if (b->labels.numel() == 0) continue;
        const at::Tensor logits = model::headLogits(m.heads[0], model::vitFeatures(m.backbone, b->pixels.to(o.device, true)));
        const at::Tensor y = b->labels.to(o.device);
        loss += torch::nll_loss(torch::log_softmax(logits, 1), y, {}, at::Reduction::Sum).item<double>();
        correct += logits.argmax(1).eq(y).sum().item<double>();
        n += static_cast<double>(y.size(0));
    }
    for (const auto& u : loader.unreadable()) r.unreadable.push_back(u);
    if (n == 0) throw InputError("an evaluation split has no readable images");
    return {loss / n, correct / n};
}


}  // namespace

TrainResult trainClassifier(const model::VitModel& init, const data::DatasetSplits& data, const TrainOptions& o0, const JobControl& job, const TrainCallbacks& cb) {
    TrainOptions o = o0;
    o.transform.size = static_cast<int>(init.backbone.config.imageSize);
    if (o.outDir.empty()) throw InputError("training needs an output folder");
    if (data.train.size() == 0 || data.val.size() == 0) throw InputError("training needs non-empty train and validation splits");
    const int classes = static_cast<int>(data.train.classNames.size());
    if (classes < 2) throw InputError("training needs at least two classes");
    // options out of range would train to NaN or never stop; the UI and the CLI both come through here
    auto bad = [](const std::string& what, double v, const std::string& range) {
        std::ostringstream s;
        s << what << " " << v << ": must be " << range;
        throw InputError(s.str());
    };
    if (!std::isfinite(o.lr) || o.lr <= 0 || o.lr > 10) bad("learning rate", o.lr, "a number in (0, 10]");
    if (!std::isfinite(o.weightDecay) || o.weightDecay < 0 || o.weightDecay > 10) bad("weight decay", o.weightDecay, "a number in [0, 10]");
    if (o.epochs < 1) bad("epochs", o.epochs, ">= 1");
    if (o.patience < 1) bad("patience", o.patience, ">= 1");
    if (o.batchSize < 1) bad("batch size", o.batchSize, ">= 1");
    if (o.mode == TrainMode::Probe) {
        if (!std::isfinite(o.probeC) || o.probeC <= 0 || o.probeC > 1e6) bad("probe C", o.probeC, "a number in (0, 1e6]");
        if (!std::isfinite(o.probeTol) || o.probeTol <= 0 || o.probeTol > 1) bad("probe tolerance", o.probeTol, "a number in (0, 1]");
        if (o.probeMaxIter < 1 || o.probeMaxIter > 1000000) bad("probe iterations", o.probeMaxIter, "1 .. 1000000");
    }
    TrainResult r;
    r.bestDir = (fs::path(o.outDir) / "best").string();
    fs::create_directories(o.outDir);

    // model: the init backbone + a fresh (seeded) or kept classifier
    model::VitModel m = init.to(o.device);
    for (auto* t : model::backboneTensors(m.backbone)) *t = t->detach().clone();  // never train the caller's tensors in place
    for (auto* t : model::backboneTensors(m.backbone))
        if (t->defined() && !torch::isfinite(*t).all().item<bool>())
            throw InputError((init.heads.empty() ? std::string("the initial model") : init.heads[0].sourcePath) + ": the weights hold NaN or Inf values");
    m.heads.resize(1);
    m.heads[0].linear.weight = m.heads[0].linear.weight.detach().clone();
    m.heads[0].linear.bias = m.heads[0].linear.bias.detach().clone();
    model::ClassifierHead& head = m.heads[0];
    if (!(o.keepHead && head.linear.weight.size(0) == classes)) {
        torch::manual_seed(o.seed);
        head.linear.weight = torch::randn({classes, init.backbone.config.hiddenSize}).mul_(0.02).to(o.device);  // HF init: N(0, 0.02), bias 0
        head.linear.bias = torch::zeros({classes}).to(o.device);
    }
    head.name = "classifier";
    head.labels = data.train.classNames;
    const std::string initKey = init.heads.empty() ? "" : init.heads[0].sourceSha256;
    const std::string key = optionsKey(o, data, initKey);

    Adam opt{{}, {}, {}, 0, o.lr, o.weightDecay, o.beta1, o.beta2, o.eps, true};  // AdamW
    std::vector<at::Tensor*> trainable{&head.linear.weight, &head.linear.bias};
    if (o.mode == TrainMode::Full)
        for (auto* t : model::backboneTensors(m.backbone)) trainable.push_back(t);
    for (auto* t : trainable) t->set_requires_grad(true);
    opt.params = trainable;
    opt.init();

    // resume from <out>/last/
    const fs::path last = fs::path(o.outDir) / "last";
    io::removeStaleTemporaries(o.outDir);
    EarlyStopping stopper(o.patience);
    int startEpoch = 1;
    if (const auto resume = readResumePoint(last.string(), key)) {
        const nlohmann::json& st = resume->state;
        const auto get = [&](const std::string& k) -> const at::Tensor& { return resume->tensor(k); };
        {
            torch::NoGradGuard ng;
            for (std::size_t i = 0; i < trainable.size(); ++i) trainable[i]->copy_(get("param/" + std::to_string(i)));
        }
        opt.restoreState(get, st.at("adam_step").get<std::int64_t>());
        r.history = historyFrom(st.at("history"));
        stopper.restore(st.at("best_val_acc").get<double>(), st.at("bad_epochs").get<int>());
        r.bestEpoch = st.at("best_epoch").get<int>();
        r.bestValAcc = stopper.best();
        startEpoch = st.at("epoch").get<int>() + 1;
        r.resumedAfterEpoch = startEpoch - 1;
        r.stoppedEarly = stopper.shouldStop();
        if (cb.onResume) cb.onResume(r.history);
    }

    // frozen backbone: validation / test (and in probe mode training) features once, cached
    const bool frozen = o.mode != TrainMode::Full;
    Features trainF, valF;
    const fs::path cache = fs::path(o.outDir) / "feature-cache";
    const auto cacheStart = std::chrono::steady_clock::now();
    if (frozen) {
        valF = computeFeatures(m, data.val, o, (cache / ("val-" + key + ".safetensors")).string(), r, job, "val");
        if (o.mode == TrainMode::Probe) trainF = computeFeatures(m, data.train, o, (cache / ("train-" + key + ".safetensors")).string(), r, job, "train");
    }
    r.featureCacheSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - cacheStart).count();

    TfEventsWriter tb((fs::path(o.outDir) / "tensorboard").string());
    if (o.mode == TrainMode::Probe && r.history.empty()) {
        // one full-batch L-BFGS fit on the cached features (deterministic: a resume refits from the cache)
        const auto t0 = std::chrono::steady_clock::now();
        job.report(0, "fitting the linear probe (L-BFGS)");
        const ProbeFit fit = fitLogisticProbe(trainF.x, trainF.y, classes, {o.probeC, o.probeTol, o.probeMaxIter});
        {
            torch::NoGradGuard ng;
            head.linear.weight.copy_(fit.weight.to(o.device));
            head.linear.bias.copy_(fit.bias.to(o.device));
        }
        r.probeEvaluations = fit.evaluations;
        r.probeMaxAbsGradient = fit.maxAbsGradient;
        r.probeConverged = fit.converged;
        const Eval tr = evalOnFeatures(head, trainF, o.batchSize), val = evalOnFeatures(head, valF, o.batchSize);
        EpochMetrics em;
        em.epoch = 1;
        em.trainLoss = tr.loss;
        em.trainAcc = tr.acc;
        em.valLoss = val.loss;
        em.valAcc = val.acc;
        em.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        em.imagesPerSecond = static_cast<double>(trainF.x.size(0)) / std::max(em.seconds, 1e-9);
        if (!std::isfinite(em.trainLoss) || !std::isfinite(em.valLoss)) throw Error("linear probe: the loss is not finite; no model was written");
        r.history.push_back(em);
        r.bestEpoch = 1;
        r.bestValAcc = val.acc;
        model::saveHuggingFaceDirectory(m.to(c10::Device(c10::kCPU)), r.bestDir, 0);
        io::writeFileAtomically((fs::path(o.outDir) / "metrics.csv").string(), metricsCsv(r.history));
        tb.addScalar("Loss/Train", 1, static_cast<float>(em.trainLoss));
        tb.addScalar("Accuracy/Train", 1, static_cast<float>(em.trainAcc));
        tb.addScalar("Loss/Eval", 1, static_cast<float>(em.valLoss));
        tb.addScalar("Accuracy/Eval", 1, static_cast<float>(em.valAcc));
        tb.flush();
        if (cb.onEpoch) cb.onEpoch(em);
    }
    for (int epoch = startEpoch; o.mode != TrainMode::Probe && epoch <= o.epochs && !stopper.shouldStop(); ++epoch) {
        const auto t0 = std::chrono::steady_clock::now();
        double lossSum = 0, correct = 0, seen = 0;
        auto step = [&](const at::Tensor& logits, const at::Tensor& y) {
            const at::Tensor loss = torch::nll_loss(torch::log_softmax(logits, 1), y);
            loss.backward();
            opt.update();
            const double n = static_cast<double>(y.size(0));
            lossSum += loss.item<double>() * n;
            correct += logits.detach().argmax(1).eq(y).sum().item<double>();
            seen += n;
        };
        if (o.mode == TrainMode::Probe) {
            const auto order = data::epochOrder(static_cast<std::size_t>(trainF.x.size(0)), o.seed, static_cast<std::uint64_t>(epoch), true);
            const at::Tensor idx = torch::tensor(std::vector<std::int64_t>(order.begin(), order.end()), torch::kInt64).to(o.device);
            const std::int64_t n = idx.size(0);
            const int steps = static_cast<int>((n + o.batchSize - 1) / o.batchSize);
            for (std::int64_t s = 0, k = 0; s < n; s += o.batchSize, ++k) {
                job.checkCancelled();
                const at::Tensor b = idx.narrow(0, s, std::min<std::int64_t>(o.batchSize, n - s));
                step(model::headLogits(head, trainF.x.index_select(0, b)), trainF.y.index_select(0, b));
                if (cb.onStep) cb.onStep(epoch, static_cast<int>(k) + 1, steps, lossSum / seen, 0);
            }
        } else {
            data::BatchLoader loader(data.train, loaderOptions(o, true, static_cast<std::uint64_t>(epoch)));
            int k = 0;
            while (auto b = loader.next()) {
                job.checkCancelled();
                ++k;
                if (b->labels.numel() == 0) continue;
                const at::Tensor x = b->pixels.to(o.device, true), y = b->labels.to(o.device);
                at::Tensor feats;
                if (frozen) {
                    torch::NoGradGuard ng;
                    feats = model::vitFeatures(m.backbone, x);
                } else {
                    feats = model::vitFeatures(m.backbone, x);
                }
                step(model::headLogits(head, feats), y);
                reportTrainingStep(job, cb, epoch, o.epochs, k, loader.batches(), lossSum / seen, seen,
                                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), o.batchSize, data.train.size(),
                                   " (at most; early stopping may end sooner)");
            }
            for (const auto& u : loader.unreadable())
                if (std::find(r.unreadable.begin(), r.unreadable.end(), u) == r.unreadable.end()) r.unreadable.push_back(u);
        }
        if (seen == 0) throw InputError("the training split has no readable images");
        EpochMetrics em;
        em.epoch = epoch;
        em.trainLoss = lossSum / seen;
        em.trainAcc = correct / seen;
        const Eval val = frozen ? evalOnFeatures(head, valF, o.batchSize) : evalOnImages(m, data.val, o, r, job);
        em.valLoss = val.loss;
        em.valAcc = val.acc;
        if (!std::isfinite(em.trainLoss) || !std::isfinite(em.valLoss))
            throw Error("epoch " + std::to_string(epoch) + ": the loss is not finite (NaN/Inf; learning rate too high?); nothing of this epoch was saved, " +
                        (epoch > 1 ? "best/ and last/ hold epoch " + std::to_string(epoch - 1) + " and earlier" : std::string("no model was written")));
        em.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        em.imagesPerSecond = seen / std::max(em.seconds, 1e-9);
        r.history.push_back(em);
        if (stopper.improved(val.acc)) {
            r.bestEpoch = epoch;
            r.bestValAcc = val.acc;
            model::saveHuggingFaceDirectory(m.to(c10::Device(c10::kCPU)), r.bestDir, 0);
        }
        r.stoppedEarly = stopper.shouldStop();
        // checkpoint for resuming (written atomically: model+optimiser first, then the state that points at them)
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        for (std::size_t i = 0; i < trainable.size(); ++i) tensors.emplace_back("param/" + std::to_string(i), trainable[i]->detach().to(torch::kCPU).contiguous());
        opt.appendState(tensors);
        writeResumePoint(last.string(), tensors, "biasscope.train-checkpoint.v1",
                         {{"options_key", key}, {"epoch", epoch}, {"adam_step", opt.step}, {"best_val_acc", stopper.best()}, {"bad_epochs", stopper.badEpochs()},
                          {"best_epoch", r.bestEpoch}, {"history", historyJson(r.history)}, {"mode", toString(o.mode)}});
        io::writeFileAtomically((fs::path(o.outDir) / "metrics.csv").string(), metricsCsv(r.history));
        tb.addScalar("Loss/Train", epoch, static_cast<float>(em.trainLoss));
        tb.addScalar("Accuracy/Train", epoch, static_cast<float>(em.trainAcc));
        tb.addScalar("Loss/Eval", epoch, static_cast<float>(em.valLoss));
        tb.addScalar("Accuracy/Eval", epoch, static_cast<float>(em.valAcc));
        tb.flush();
        if (cb.onEpoch) cb.onEpoch(em);
    }

    // test with the best checkpoint (published)
    if (data.test.size() > 0 && fs::exists(fs::path(r.bestDir) / "model.safetensors")) {
        const model::VitModel best = model::loadVitModel(r.bestDir).to(o.device);
        const Eval test = evalOnImages(best, data.test, o, r, job);
        r.testLoss = test.loss;
        r.testAcc = test.acc;
        tb.addScalar("Accuracy/Test", r.bestEpoch, static_cast<float>(test.acc));
        tb.flush();
    }
    nlohmann::json res{{"mode", toString(o.mode)},
                       {"best_epoch", r.bestEpoch},
                       {"best_val_acc", r.bestValAcc},
                       {"test_acc", r.testAcc},
                       {"test_loss", r.testLoss},
                       {"stopped_early", r.stoppedEarly},
                       {"epochs_run", r.history.size()},
                       {"split", data.splitSource},
                       {"train_images", data.train.size()},
                       {"val_images", data.val.size()},
                       {"test_images", data.test.size()},
                       {"unreadable_images", r.unreadable.size()},
                       {"feature_cache_seconds", r.featureCacheSeconds},
                       {"options_key", key}};
    if (o.mode == TrainMode::Probe)
        res["probe"] = {{"solver", "L-BFGS, full batch, float64 (scikit-learn's LogisticRegression objective)"},
                        {"C", o.probeC},
                        {"tol", o.probeTol},
                        {"evaluations", r.probeEvaluations},
                        {"max_abs_gradient", r.probeMaxAbsGradient},
                        {"converged", r.probeConverged},
                        {"deviation", "not the published recipe: epochs, lr, weight decay, patience and batch do not apply"}};
    // metrics.csv again from the committed history: a run killed after its last state but before the table's
    // rename resumes with nothing left to train and must still leave the whole table
    io::writeFileAtomically((fs::path(o.outDir) / "metrics.csv").string(), metricsCsv(r.history));
    io::writeFileAtomically((fs::path(o.outDir) / "result.json").string(), res.dump(2));
    std::string un;
    for (const auto& [f, why] : r.unreadable) un += f + "\t" + why + "\n";
    io::writeFileAtomically((fs::path(o.outDir) / "unreadable.txt").string(), un);
    return r;
}

}  // namespace biasscope::train
