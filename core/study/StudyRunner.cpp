#include "study/StudyRunner.h"

#include <chrono>
#include <filesystem>

#include <nlohmann/json.hpp>

#include <torch/types.h>

#include "common/Error.h"
#include "explain/RelevanceExport.h"
#include "io/AtomicFile.h"
#include "io/ImageIO.h"
#include "io/JsonFile.h"
#include "io/Safetensors.h"
#include "io/Sha256.h"
#include "model/VitWeights.h"
#include "preprocess/ImagePreprocessor.h"

namespace biasscope::study {

namespace fs = std::filesystem;

std::string storedImagePath(const std::string& outDir, const std::string& set, const std::string& imageFile) {
    return (fs::path(outDir) / "relevance" / set / (fs::path(imageFile).stem().string() + ".safetensors")).string();
}

namespace {

model::VitModel loadStudyModel(const StudyDefinition& s, std::string& modelKey) {
    auto opt = [](const std::string& c) { return c.empty() ? std::nullopt : std::optional<std::string>(c); };
    model::VitModel m = model::loadVitModel(s.heads[0].path, opt(s.heads[0].config), s.heads[0].name);
    for (std::size_t i = 1; i < s.heads.size(); ++i) model::addHeadFrom(m, s.heads[i].path, opt(s.heads[i].config), s.heads[i].name);
    std::string hashes;
    for (const auto& h : m.heads) hashes += h.name + ":" + h.sourceSha256 + ";";
    modelKey = io::sha256Hex(hashes).substr(0, 16);
    return m;
}

int headIndex(const model::VitModel& m, const std::string& name) {
    for (std::size_t i = 0; i < m.heads.size(); ++i)
        if (m.heads[i].name == name) return static_cast<int>(i);
    throw InputError("no head named '" + name + "'");
}

bool alreadyStored(const std::string& path, const std::map<std::string, std::string>& expect) {
    if (!fs::exists(path)) return false;
    try {
        const auto h = io::readSafetensorsHeader(path);
        for (const auto& [k, v] : expect) {
            auto it = h.metadata.find(k);
            if (it == h.metadata.end() || it->second != v) return false;
        }
        return true;
    } catch (const Error&) {
        return false;  // unreadable record: recompute it
    }
}

}  // namespace

StudyRunReport runStudy(const StudyDefinition& s, const StudyRunOptions& o, const JobControl& job) {
    if (o.shardCount < 1 || o.shardIndex < 0 || o.shardIndex >= o.shardCount)
        throw InputError("--shard " + std::to_string(o.shardIndex) + "/" + std::to_string(o.shardCount) + ": expected I/N with 0 <= I < N");
    if (!s.importedFrom.empty())
        throw InputError(s.sourcePath + ": this store was imported from the published pipeline (" + s.importedFrom +
                         "); it has no model to run. Write a study file with heads (docs/study-format.md) and run that.");
    std::string modelKey;
    const model::VitModel model = loadStudyModel(s, modelKey).to(o.device);
    std::vector<explain::Target> targets;
    for (const auto& t : s.targets) {
        const int h = headIndex(model, t.head);
        if (t.classIndex < 0 || t.classIndex >= static_cast<int>(model.heads[static_cast<std::size_t>(h)].labels.size()))
            throw InputError(s.sourcePath + ": target '" + t.name + "' class " + std::to_string(t.classIndex) + " is outside head '" + t.head + "'");
        targets.push_back({h, t.classIndex});
    }
    const std::string paramsKey = s.parametersKey();

    std::vector<std::pair<const ImageSetSpec*, std::string>> work;  // fixed global order: sets in file order, images by name
    for (const auto& set : s.sets) {
        const auto files = io::listImageFiles(set.folder, true);
        if (files.empty()) throw InputError(s.sourcePath + ": image set '" + set.name + "': no images in " + set.folder);
        for (const auto& f : files) work.emplace_back(&set, f);
    }
    {  // the store carries its study definition, so `study analyze DIR` needs nothing else
        fs::create_directories(o.outDir);
        io::removeStaleTemporaries(o.outDir);  // records of writers killed inside their write window
        nlohmann::json j = io::readJsonFile(s.sourcePath, "study file");
        for (auto& h : j["heads"]) {
            const std::string name = h["name"];
            for (const auto& hs : s.heads)
                if (hs.name == name) {
                    h["path"] = hs.path;
                    h["config"] = hs.config;
                }
        }
        for (auto& st : j["image_sets"])
            for (const auto& ss : s.sets)
                if (ss.name == st["name"]) st["folder"] = ss.folder;
        io::writeFileAtomically((fs::path(o.outDir) / "study.json").string(), j.dump(2));
    }
    StudyRunReport report;
    const auto start = std::chrono::steady_clock::now();
    int done = 0, mine = 0;
    for (std::size_t i = 0; i < work.size(); ++i)
        if (static_cast<int>(i % static_cast<std::size_t>(o.shardCount)) == o.shardIndex) ++mine;
    for (std::size_t i = 0; i < work.size(); ++i) {
        if (static_cast<int>(i % static_cast<std::size_t>(o.shardCount)) != o.shardIndex) {
            ++report.otherShards;
            continue;
        }
        job.checkCancelled();
        const auto& [set, file] = work[i];
        const std::string out = storedImagePath(o.outDir, set->name, file);
        try {
            const std::string imageSha = io::sha256FileHex(file);
            const std::map<std::string, std::string> key{{"params_key", paramsKey}, {"model_key", modelKey}, {"image_sha256", imageSha}};
            if (alreadyStored(out, key)) {
                ++report.skipped;
            } else {
                const at::Tensor pixels = preprocess::vitPixels(io::loadRgbImage(file), model.backbone.config).to(o.device);
                const explain::RelevanceResult r = explain::explainBatched(model, pixels, targets, s.relevance);
                const TargetSpec& ref = s.target(set->referenceTarget);
                const int refHead = headIndex(model, ref.head);
                const double confidence =
                    torch::softmax(r.logits[static_cast<std::size_t>(refHead)].to(torch::kFloat64), 0)[ref.classIndex].item<double>();
                if (!std::isfinite(confidence)) throw Error("model output is not finite (NaN/inf)");
                std::vector<std::pair<std::string, at::Tensor>> tensors;
                tensors.emplace_back("confidence", torch::full({1}, confidence, torch::kFloat32));
                for (std::size_t h = 0; h < model.heads.size(); ++h)
                    tensors.emplace_back("logits/" + model.heads[h].name, r.logits[h].to(torch::kCPU).to(torch::kFloat32));
                for (std::size_t t = 0; t < s.targets.size(); ++t) explain::appendTargetTensors(r, t, s.targets[t].name + "/", tensors);
                auto meta = key;
                meta["format"] = "biasscope.study-image.v1";
                meta["set"] = set->name;
                meta["condition"] = set->condition;
                meta["image_file"] = file;
                meta["reference_target"] = set->referenceTarget;
                meta["rule"] = explain::toString(s.relevance.rule);
                meta["readout"] = explain::toString(s.relevance.readout);
                std::string dev;
                for (const auto& d : explain::deviationsFromPublished(s.relevance)) dev += (dev.empty() ? "" : " | ") + d;
                meta["deviations"] = dev;
                io::writeSafetensors(out, tensors, meta);  // atomic: an interrupted run leaves no partial record
                ++report.computed;
            }
        } catch (const Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            report.failures.emplace_back(file, e.what());
        }
        ++done;
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double rate = done / std::max(secs, 1e-9);
        job.report(static_cast<double>(done) / std::max(1, mine),
                   std::to_string(done) + "/" + std::to_string(mine) + " images, " + std::to_string(rate).substr(0, 5) + " img/s, ETA " +
                       std::to_string(static_cast<int>((mine - done) / std::max(rate, 1e-9))) + " s");
    }
    return report;
}

}  // namespace biasscope::study
