#include "study/PublishedRun.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/Error.h"
#include "io/JsonFile.h"

namespace biasscope::study {

namespace fs = std::filesystem;

namespace {

nlohmann::json readJson(const fs::path& p) { return io::readJsonFile(p.string(), "published output (missing?)"); }

void readTopK(const fs::path& file, std::vector<std::vector<int>>& topK, std::vector<std::vector<double>>& scores) {
    const nlohmann::json j = readJson(file);
    if (!j.is_object()) throw Error(file.string() + ": expected an object keyed by layer");
    const std::size_t layers = j.size();
    topK.assign(layers, {});
    scores.assign(layers, {});
    try {
        for (auto it = j.begin(); it != j.end(); ++it) {
            std::size_t pos = 0;
            const int layer = std::stoi(it.key(), &pos);
            if (pos != it.key().size() || layer < 0 || static_cast<std::size_t>(layer) >= layers)
                throw Error(file.string() + ": layer key '" + it.key() + "' is not in 0.." + std::to_string(layers - 1));
            const nlohmann::json& list = it.value().at("top5_index");
            if (!list.is_array() || list.empty())
                throw Error(file.string() + ": layer " + it.key() + ": 'top5_index' must be a non-empty list of neuron indices");
            for (const auto& n : list)
                if (!n.is_number_integer() || n.get<std::int64_t>() < 0 || n.get<std::int64_t>() > 1000000)
                    throw Error(file.string() + ": layer " + it.key() + ": neuron index " + io::jsonShort(n) + " is not an integer in [0, 1000000]");
            if (!topK[static_cast<std::size_t>(layer)].empty()) throw Error(file.string() + ": layer " + std::to_string(layer) + " is given twice ('" + it.key() + "')");
            topK[static_cast<std::size_t>(layer)] = list.get<std::vector<int>>();
            if (it.value().contains("scores")) {  // optional; when given, one finite score per listed neuron
                const nlohmann::json& sc = it.value()["scores"];
                if (!sc.is_array() || sc.size() != list.size())
                    throw Error(file.string() + ": layer " + it.key() + ": 'scores' must list " + std::to_string(list.size()) + " numbers, one per 'top5_index' entry, found " + io::jsonShort(sc));
                for (const auto& x : sc)
                    if (!x.is_number() || !std::isfinite(x.get<double>()))
                        throw Error(file.string() + ": layer " + it.key() + ": score " + io::jsonShort(x) + " is not a finite number");
                scores[static_cast<std::size_t>(layer)] = sc.get<std::vector<double>>();
            }
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(file.string() + ": malformed top-k entry: " + io::jsonErrorText(e));
    } catch (const std::logic_error&) {  // std::stoi: not a number, or out of int's range
        throw Error(file.string() + ": layer keys must be integers");
    }
}

}  // namespace

std::vector<PublishedSet> readPublishedRelevance(const std::string& dir) {
    if (!fs::is_directory(dir)) throw InputError(dir + ": not a folder (expected the published vit_relevance/ folder)");
    std::vector<PublishedSet> sets;
    std::vector<fs::path> setDirs;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory()) setDirs.push_back(e.path());
    std::sort(setDirs.begin(), setDirs.end());
    for (const auto& sd : setDirs) {
        PublishedSet set;
        set.name = sd.filename().string();
        set.gender = set.name.substr(set.name.rfind('_') == std::string::npos ? 0 : set.name.rfind('_') + 1);
        const nlohmann::json scores = readJson(sd / "scores.json");
        std::vector<fs::path> imageDirs;
        for (const auto& e : fs::directory_iterator(sd))
            if (e.is_directory()) imageDirs.push_back(e.path());
        std::sort(imageDirs.begin(), imageDirs.end());
        for (const auto& id : imageDirs) {
            PublishedImage img;
            img.name = id.filename().string();
            if (!scores.contains(img.name) || !scores[img.name].is_number())
                throw Error((sd / "scores.json").string() + ": no confidence for image '" + img.name + "'");
            img.confidence = scores[img.name].get<double>();
            if (!(img.confidence >= 0 && img.confidence <= 1))
                throw Error((sd / "scores.json").string() + ": confidence " + io::jsonShort(scores[img.name]) + " of image '" + img.name + "' is not in [0, 1]");
            for (const auto& [site, file] : std::vector<std::pair<std::string, std::string>>{
                     {"final", "top5_relevance_" + set.gender + "_vit.json"}, {"intermediate", "top5_intermediate_relevance_" + set.gender + "_vit.json"}})
                readTopK(id / file, img.topK[site], img.scores[site]);
            set.images.push_back(std::move(img));
        }
        sets.push_back(std::move(set));
    }
    if (sets.empty()) throw InputError(dir + ": no set folders found");
    return sets;
}

std::vector<std::vector<std::vector<int>>> passingTopK(const PublishedSet& set, const std::string& site, double threshold) {
    std::vector<std::vector<std::vector<int>>> out;
    for (const auto& img : set.images)
        if (img.confidence >= threshold) out.push_back(img.topK.at(site));
    return out;
}

}  // namespace biasscope::study
