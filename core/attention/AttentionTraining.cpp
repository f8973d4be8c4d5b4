#include "attention/AttentionTraining.h"

#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "attention/Aggregation.h"
#include "attention/Subsampling.h"
#include "common/Error.h"

namespace biasscope::attention {

namespace fs = std::filesystem;

namespace {

at::Tensor targetTable(const data::AttributeTable& t, const std::vector<std::size_t>& rows) {
    at::Tensor out = torch::zeros({static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(t.names.size())});
    auto a = out.accessor<float, 2>();
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t c = 0; c < t.names.size(); ++c) a[static_cast<std::int64_t>(r)][static_cast<std::int64_t>(c)] = t.values[rows[r]][c];
    return out;
}

data::LabelledImages imagesOf(const std::vector<std::string>& paths, const std::vector<int>& labels, const std::vector<std::string>& classes) {
    data::LabelledImages li;
    li.files = paths;
    li.labels = labels;
    li.classNames = classes;
    return li;
}

}  // namespace

train::CnnTrainData celebTrainingData(const data::CelebAMaskHQ& d, const AttentionTrainOptions& o) {
    const auto& t = d.attributes;
    std::vector<std::size_t> train = d.indices(data::Split::Train), val = d.indices(data::Split::Val);
    if (train.empty() || val.empty()) throw InputError(d.root + ": the published split leaves no training or validation images");
    nlohmann::json desc{{"dataset", "celeba"}, {"split", d.splitSource}, {"train_split_images", train.size()}};

    train::CnnTrainData td;
    td.loss = train::CnnLoss::MultiLabelBce;
    td.outputNames = t.names;
    td.lossWeights = train::bcePosWeights(targetTable(t, train), t.names);  // on the full training split, also for one-sided / subsampled runs (published)

    if (!o.oneSidedTarget.empty()) {
        const int c = t.column(o.oneSidedTarget);
        if (c < 0) throw InputError("one-sided target '" + o.oneSidedTarget + "' is not an attribute of the data's attribute file");
        if (o.oneSidedKeep != "positive" && o.oneSidedKeep != "negative") throw InputError("one-sided training keeps 'positive' or 'negative' images");
        const std::uint8_t keep = o.oneSidedKeep == "positive" ? 1 : 0;
        std::vector<std::size_t> kept;
        for (auto i : train)
            if (t.values[i][static_cast<std::size_t>(c)] == keep) kept.push_back(i);
        if (kept.empty()) throw InputError("one-sided training: no training image has " + o.oneSidedTarget + " = " + std::to_string(keep));
        desc["one_sided"] = {{"target", o.oneSidedTarget}, {"keep", o.oneSidedKeep}, {"kept", kept.size()}};
        train = kept;
    }
    if (o.subgroupMcc) {
        const auto a = t.labels(o.subgroupAttribute), m = t.labels(o.subgroupConfounder);
        std::vector<int> at, mt;
        for (auto i : train) at.push_back(a[i]), mt.push_back(m[i]);
        Counts available{};
        for (std::size_t k = 0; k < at.size(); ++k) available[static_cast<std::size_t>(2 * at[k] + mt[k])] += 1;
        const double m0 = mccFromCounts(available.data());
        // the set size of the whole sweep around the data's MCC (run_subgroups.py), so every target trains on as many images
        const SweepPlan plan = planSweep(std::round(m0 * 100) / 100, available);
        const SmoothPath path = solveSubgroupsSmooth(*o.subgroupMcc, available, plan.setSize);
        const auto keep = chooseSubsample(at, mt, path.counts, o.subsampleSeed);
        std::vector<std::size_t> kept;
        for (auto k : keep) kept.push_back(train[k]);
        Counts got{};
        for (auto k : keep) got[static_cast<std::size_t>(2 * at[k] + mt[k])] += 1;
        desc["subsample"] = {{"attribute", o.subgroupAttribute}, {"confounder", o.subgroupConfounder}, {"target_mcc", *o.subgroupMcc},
                             {"available", available},           {"available_mcc", m0},              {"set_size", plan.setSize},
                             {"counts", got},                    {"achieved_mcc", mccFromCounts(got.data())},
                             {"note", "subgroup members drawn with std::mt19937_64(seed), not numpy's global RNG: other images, same counts"}};
        train = kept;
    }
    std::vector<std::string> trainFiles, valFiles;
    for (auto i : train) trainFiles.push_back(d.imagePath(i));
    for (auto i : val) valFiles.push_back(d.imagePath(i));
    td.train = imagesOf(trainFiles, std::vector<int>(train.size(), 0), {"multi-label"});
    td.val = imagesOf(valFiles, std::vector<int>(val.size(), 0), {"multi-label"});
    td.trainTargets = targetTable(t, train);
    td.valTargets = targetTable(t, val);
    desc["train_images"] = train.size();
    desc["val_images"] = val.size();
    td.descriptionJson = desc.dump();
    return td;
}

train::CnnTrainData waterbirdsTrainingData(const data::Waterbirds& d) {
    std::vector<std::string> trainFiles, valFiles;
    std::vector<int> trainY, valY;
    int aligned = 0;
    for (auto i : d.indices(data::Split::Train)) {
        trainFiles.push_back(d.imagePath(i));
        trainY.push_back(d.y[i]);
        aligned += d.y[i] == d.place[i];
    }
    for (auto i : d.indices(data::Split::Val)) valFiles.push_back(d.imagePath(i)), valY.push_back(d.y[i]);
    if (trainFiles.empty() || valFiles.empty()) throw InputError(d.root + "/metadata.csv: no training (split 0) or validation (split 1) rows");
    train::CnnTrainData td;
    td.loss = train::CnnLoss::WeightedCrossEntropy;
    td.outputNames = {"landbird", "waterbird"};
    td.train = imagesOf(trainFiles, trainY, td.outputNames);
    td.val = imagesOf(valFiles, valY, td.outputNames);
    td.lossWeights = train::balancedClassWeights(trainY, 2);
    td.descriptionJson = nlohmann::json{{"dataset", "waterbirds"},
                                        {"train_images", trainFiles.size()},
                                        {"val_images", valFiles.size()},
                                        {"train_place_agrees_with_class", static_cast<double>(aligned) / static_cast<double>(trainFiles.size())}}
                             .dump();
    return td;
}

AttentionTrainResult trainAttentionModels(const AttentionTrainOptions& o, const JobControl& job, const train::TrainCallbacks& cb) {
    if (o.outDir.empty()) throw InputError("aiou train needs an output folder");
    if (o.trainMultiple < 1) throw InputError("--train-multiple must be at least 1");
    train::CnnTrainData td;
    if (o.dataset == "celeba")
        td = celebTrainingData(data::loadCelebAMaskHQ(o.root), o);
    else if (o.dataset == "waterbirds")
        td = waterbirdsTrainingData(data::loadWaterbirds(o.root));
    else
        throw InputError("unknown dataset '" + o.dataset + "' (waterbirds | celeba)");
    if (o.dataset == "waterbirds" && (!o.oneSidedTarget.empty() || o.subgroupMcc)) throw InputError("one-sided and subsampled training are CelebA experiments");

    const bool extended = o.arch == "resnet50_extended";
    std::optional<model::CnnModel> pretrained;
    if (!o.init.empty()) pretrained = model::loadCnnModel(o.init);
    AttentionTrainResult res;
    res.dataDescription = td.descriptionJson;
    fs::create_directories(o.outDir);
    for (int k = 0; k < o.trainMultiple; ++k) {
        const int index = o.firstIndex + k;
        const std::string arch = pretrained ? (extended ? "resnet50_extended" : pretrained->arch) : o.arch;
        // published names (celeb_all_resnet50_extended_{i}, waterbirds{P}_resnet18_{i}); a non-standard net by its family
        const bool standard = arch.find_first_of(" ([") == std::string::npos;
        const std::string tag = standard ? arch : (arch.rfind("efficientnet", 0) == 0 ? "efficientnet_v2" : "resnet");
        const std::string name = o.dataset + "_" + tag + "_" + std::to_string(index);
        const std::string modelPath = (fs::path(o.outDir) / (name + ".safetensors")).string();
        res.modelPaths.push_back(modelPath);
        const fs::path runDir = fs::path(o.outDir) / "runs" / name;
        if (fs::exists(modelPath) && fs::exists(runDir / "result.json")) {
            ++res.alreadyDone;
            continue;
        }
        train::CnnTrainOptions to = o.train;
        to.seed = o.train.seed + static_cast<std::uint64_t>(index);
        to.outDir = runDir.string();
        to.modelPath = modelPath;
        to.transform.flip = o.flip ? 0.5 : 0.0;
        const auto outputs = static_cast<std::int64_t>(td.outputNames.size());
        model::CnnModel init;
        if (pretrained) {
            init = model::cnnWithNewHead(*pretrained, outputs, extended, to.seed);
        } else {
            model::CnnSpec spec;
            spec.arch = o.arch;
            spec.stageBlocks = o.stageBlocks;
            spec.stageWidths = o.stageWidths;
            spec.numClasses = outputs;
            spec.seed = to.seed;
            init = model::makeRandomCnn(spec);
            to.deviations.push_back("random initialisation (no --init weights): the published models start from ImageNet weights");
        }
        JobControl sub = job;
        sub.progress = [&, k](double f, const std::string& s) {
            job.report((k + f) / o.trainMultiple, "model " + std::to_string(k + 1) + "/" + std::to_string(o.trainMultiple) + " (" + name + "): " + s);
        };
        res.runs.push_back(train::trainCnn(init, td, to, sub, cb));
    }
    return res;
}

}  // namespace biasscope::attention
