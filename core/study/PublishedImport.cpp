#include "study/PublishedImport.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "common/Error.h"
#include "io/AtomicFile.h"
#include "io/Safetensors.h"
#include "io/Sha256.h"
#include "study/PublishedRun.h"

namespace biasscope::study {

namespace fs = std::filesystem;

namespace {

at::Tensor indexTensor(const std::vector<std::vector<int>>& rows, const std::string& where) {
    const std::size_t k = rows.empty() ? 0 : rows.front().size();
    at::Tensor t = torch::empty({static_cast<long>(rows.size()), static_cast<long>(k)}, torch::kInt64);
    auto a = t.accessor<std::int64_t, 2>();
    for (std::size_t l = 0; l < rows.size(); ++l) {
        if (rows[l].size() != k)
            throw InputError(where + ": layer " + std::to_string(l) + " has " + std::to_string(rows[l].size()) + " indices, layer 0 has " + std::to_string(k));
        for (std::size_t i = 0; i < k; ++i) a[static_cast<long>(l)][static_cast<long>(i)] = rows[l][i];
    }
    return t;
}

at::Tensor scoreTensor(const std::vector<std::vector<double>>& rows, long layers, long k) {
    at::Tensor t = torch::full({layers, k}, std::nan(""), torch::kFloat64);  // NaN where the file had no scores
    auto a = t.accessor<double, 2>();
    for (std::size_t l = 0; l < rows.size() && static_cast<long>(l) < layers; ++l)
        for (std::size_t i = 0; i < rows[l].size() && static_cast<long>(i) < k; ++i) a[static_cast<long>(l)][static_cast<long>(i)] = rows[l][i];
    return t;
}

}  // namespace

ImportReport importPublished(const std::string& dir, const std::string& outDir) {
    std::vector<PublishedSet> sets = readPublishedRelevance(dir);
    // the published order (male before female, unmasked before masked): figures and the independent
    // tests' direction (first set vs second) follow the study file's order
    auto rank = [](const PublishedSet& s) {
        static const std::vector<std::string> order{"male", "female", "masked_male", "masked_female"};
        const auto it = std::find(order.begin(), order.end(), s.name);
        return std::make_pair(static_cast<int>(it - order.begin()), s.name);
    };
    std::stable_sort(sets.begin(), sets.end(), [&](const PublishedSet& a, const PublishedSet& b) { return rank(a) < rank(b); });
    ImportReport report;
    nlohmann::json study;
    study["name"] = "imported-" + fs::absolute(dir).lexically_normal().parent_path().filename().string();
    study["imported_from"] = fs::absolute(dir).lexically_normal().string();
    study["heads"] = nlohmann::json::array();
    study["targets"] = nlohmann::json::array({{{"name", "gender_female"}, {"head", "gender"}, {"class", 0}},
                                              {{"name", "gender_male"}, {"head", "gender"}, {"class", 1}}});
    study["sites"] = {"intermediate", "final"};
    study["rule"] = "cp";
    study["readout"] = "gradient";  // what the published pipeline computed (method.md section 3)
    int storedK = 0;
    for (const auto& set : sets) {
        if (set.gender != "male" && set.gender != "female")
            throw InputError((fs::path(dir) / set.name).string() + ": set folder name must end in 'male' or 'female' (published layout)");
        const std::string ref = "gender_" + set.gender;
        const bool masked = set.name.rfind("masked", 0) == 0;
        study["image_sets"].push_back({{"name", set.name}, {"folder", (fs::path(dir) / set.name).string()}, {"condition", masked ? "masked" : "unmasked"},
                                       {"reference_target", ref}});
        const std::string scoresSha = io::sha256FileHex((fs::path(dir) / set.name / "scores.json").string());
        for (const auto& img : set.images) {
            std::vector<std::pair<std::string, at::Tensor>> tensors;
            tensors.emplace_back("confidence", torch::full({1}, img.confidence, torch::kFloat64));  // exact, as in scores.json
            std::map<std::string, std::string> meta{{"format", "biasscope.study-image-topk.v1"},
                                                    {"set", set.name},
                                                    {"condition", masked ? "masked" : "unmasked"},
                                                    {"reference_target", ref},
                                                    {"imported_from", (fs::path(dir) / set.name / img.name).string()},
                                                    {"scores_json_sha256", scoresSha}};
            for (const auto& [site, rows] : img.topK) {
                const std::string where = (fs::path(dir) / set.name / img.name).string() + " (" + site + ")";
                at::Tensor idx = indexTensor(rows, where);
                if (storedK == 0) storedK = static_cast<int>(idx.size(1));
                if (idx.size(1) != storedK) throw InputError(where + ": " + std::to_string(idx.size(1)) + " neurons per layer, other images have " + std::to_string(storedK));
                tensors.emplace_back(ref + "/" + site + "_topk_index", idx);
                tensors.emplace_back(ref + "/" + site + "_topk_score", scoreTensor(img.scores.at(site), idx.size(0), idx.size(1)));
            }
            const fs::path out = fs::path(outDir) / "relevance" / set.name / (img.name + ".safetensors");
            fs::create_directories(out.parent_path());
            io::writeSafetensors(out.string(), tensors, meta);
            ++report.images;
        }
        ++report.sets;
    }
    study["analysis"] = {{"confidence_threshold", 0.9}, {"top_k", storedK}};
    report.studyFile = (fs::path(outDir) / "study.json").string();
    io::writeFileAtomically(report.studyFile, study.dump(2));
    return report;
}

}  // namespace biasscope::study
