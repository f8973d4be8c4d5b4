#include "study/StudyDefinition.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "common/Error.h"
#include "io/JsonFile.h"
#include "io/Sha256.h"

namespace biasscope::study {

namespace fs = std::filesystem;

const TargetSpec& StudyDefinition::target(const std::string& n) const {
    for (const auto& t : targets)
        if (t.name == n) return t;
    throw InputError(sourcePath + ": no target named '" + n + "'");
}

std::string StudyDefinition::parametersKey() const {
    nlohmann::json j;
    j["rule"] = explain::toString(relevance.rule);
    j["readout"] = explain::toString(relevance.readout);
    std::vector<std::string> sites;
    for (auto s : relevance.sites) sites.push_back(explain::toString(s));
    j["sites"] = sites;
    j["gamma"] = relevance.gamma.enabled ? nlohmann::json{relevance.gamma.conv, relevance.gamma.linear} : nlohmann::json(nullptr);
    for (const auto& t : targets) j["targets"].push_back({t.name, t.head, t.classIndex});
    return io::sha256Hex(j.dump()).substr(0, 16);
}

StudyDefinition readStudyDefinition(const std::string& path) {
    const nlohmann::json j = io::readJsonFile(path, "study file");
    const fs::path base = fs::absolute(path).parent_path();
    auto resolve = [&](const std::string& p) { return p.empty() ? p : (fs::path(p).is_absolute() ? p : (base / p).lexically_normal().string()); };
    StudyDefinition s;
    s.sourcePath = path;
    try {
        s.name = j.value("name", fs::path(path).stem().string());
        s.importedFrom = j.value("imported_from", std::string());
        for (const auto& h : j.at("heads"))
            s.heads.push_back({h.at("name").get<std::string>(), resolve(h.at("path").get<std::string>()), resolve(h.value("config", std::string()))});
        for (const auto& t : j.at("targets")) s.targets.push_back({t.at("name").get<std::string>(), t.at("head").get<std::string>(), t.at("class").get<int>()});
        for (const auto& st : j.at("image_sets"))
            s.sets.push_back({st.at("name").get<std::string>(), resolve(st.at("folder").get<std::string>()), st.value("condition", std::string("unmasked")),
                              st.at("reference_target").get<std::string>()});
        if (j.contains("sites")) {
            s.relevance.sites.clear();
            for (const auto& x : j["sites"]) s.relevance.sites.push_back(explain::parseSite(x.get<std::string>()));
        }
        s.relevance.rule = explain::parseAttentionRule(j.value("rule", std::string("cp")));
        s.relevance.readout = explain::parseReadout(j.value("readout", std::string("relevance")));
        if (j.contains("gamma") && !j["gamma"].is_null())
            s.relevance.gamma = {true, j["gamma"].value("conv", 0.25), j["gamma"].value("linear", 0.05)};
        if (j.contains("analysis")) {
            s.confidenceThreshold = j["analysis"].value("confidence_threshold", s.confidenceThreshold);
            s.topK = j["analysis"].value("top_k", s.topK);
        }
    } catch (const nlohmann::json::exception& e) {
        throw InputError(path + ": missing or malformed field: " + e.what());
    }
    if ((s.heads.empty() && s.importedFrom.empty()) || s.sets.empty() || s.targets.empty())
        throw InputError(path + ": a study needs heads, image_sets and targets");
    std::set<std::string> heads, names;
    for (const auto& h : s.heads)
        if (!heads.insert(h.name).second) throw InputError(path + ": head '" + h.name + "' defined twice");
    for (const auto& t : s.targets) {
        if (s.importedFrom.empty() && !heads.count(t.head)) throw InputError(path + ": target '" + t.name + "' uses unknown head '" + t.head + "'");
        if (!names.insert(t.name).second) throw InputError(path + ": target '" + t.name + "' defined twice");
    }
    for (const auto& st : s.sets) {
        s.target(st.referenceTarget);
        if (st.condition != "unmasked" && st.condition != "masked")
            throw InputError(path + ": set '" + st.name + "' has condition '" + st.condition + "' (expected unmasked or masked)");
    }
    if (s.topK < 1) throw InputError(path + ": analysis.top_k must be >= 1");
    return s;
}

}  // namespace biasscope::study
