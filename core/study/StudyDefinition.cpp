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

namespace {

// A set or target name becomes a folder or a record key: one path component, no separator, not . or ..
void checkName(const std::string& path, const std::string& what, const std::string& name) {
    if (name.empty()) throw InputError(path + ": " + what + " has an empty name");
    if (name == "." || name == ".." || name.find_first_of("/\\") != std::string::npos || name.size() > 200)
        throw InputError(path + ": " + what + " name '" + name + "' is not a plain name (no '/', '\\', '.' or '..'; at most 200 characters)");
    for (unsigned char c : name)
        if (c < 0x20) throw InputError(path + ": " + what + " name '" + name + "' holds a control character");
}

}  // namespace

StudyDefinition readStudyDefinition(const std::string& path) {
    const nlohmann::json j = io::readJsonFile(path, "study file");
    const fs::path base = fs::absolute(path).parent_path();
    auto resolve = [&](const std::string& p) { return p.empty() ? p : (fs::path(p).is_absolute() ? p : (base / p).lexically_normal().string()); };
    auto array = [&](const char* key) -> const nlohmann::json& {
        const auto& a = io::jsonField(j, key, path);
        if (!a.is_array()) throw InputError(path + ": '" + std::string(key) + "' must be a list, found " + io::jsonShort(a));
        return a;
    };
    if (!j.is_object()) throw InputError(path + ": a study file is a JSON object, found " + io::jsonShort(j));
    StudyDefinition s;
    s.sourcePath = path;
    s.name = io::jsonString(j, "name", path, fs::path(path).stem().string());
    s.importedFrom = io::jsonString(j, "imported_from", path, std::string());
    const bool imported = !s.importedFrom.empty();
    if (j.contains("heads") || !imported) {
        std::size_t i = 0;
        for (const auto& h : array("heads")) {
            const std::string w = path + ": heads[" + std::to_string(i++) + "]";
            s.heads.push_back({io::jsonString(h, "name", w), resolve(io::jsonString(h, "path", w)), resolve(io::jsonString(h, "config", w, std::string()))});
        }
    }
    {
        std::size_t i = 0;
        for (const auto& t : array("targets")) {
            const std::string w = path + ": targets[" + std::to_string(i++) + "]";
            s.targets.push_back({io::jsonString(t, "name", w), io::jsonString(t, "head", w), static_cast<int>(io::jsonInt(t, "class", w, 0, 1000000))});
            checkName(path, "target", s.targets.back().name);
        }
    }
    {
        std::size_t i = 0;
        for (const auto& st : array("image_sets")) {
            const std::string w = path + ": image_sets[" + std::to_string(i++) + "]";
            s.sets.push_back({io::jsonString(st, "name", w), resolve(io::jsonString(st, "folder", w)), io::jsonString(st, "condition", w, "unmasked"),
                              io::jsonString(st, "reference_target", w)});
            checkName(path, "image set", s.sets.back().name);
        }
    }
    if (j.contains("sites")) {
        s.relevance.sites.clear();
        for (const auto& x : array("sites")) {
            if (!x.is_string()) throw InputError(path + ": 'sites' must list site names, found " + io::jsonShort(x));
            try {
                s.relevance.sites.push_back(explain::parseSite(x.get<std::string>()));
            } catch (const Error& e) {
                throw InputError(path + ": sites: " + e.what());
            }
        }
        if (s.relevance.sites.empty()) throw InputError(path + ": 'sites' is empty (omit it for the default sites)");
    }
    try {
        s.relevance.rule = explain::parseAttentionRule(io::jsonString(j, "rule", path, "cp"));
        s.relevance.readout = explain::parseReadout(io::jsonString(j, "readout", path, "relevance"));
    } catch (const Error& e) {
        throw InputError(path + ": " + e.what());
    }
    if (j.contains("gamma") && !j["gamma"].is_null()) {
        const std::string w = path + ": gamma";
        s.relevance.gamma = {true, io::jsonNumber(j["gamma"], "conv", w, 0, 100, 0.25), io::jsonNumber(j["gamma"], "linear", w, 0, 100, 0.05)};
    }
    if (j.contains("analysis")) {
        const std::string w = path + ": analysis";
        s.confidenceThreshold = io::jsonNumber(j["analysis"], "confidence_threshold", w, 0, 1, s.confidenceThreshold);
        s.topK = static_cast<int>(io::jsonInt(j["analysis"], "top_k", w, 1, 10000, s.topK));
    }
    if ((s.heads.empty() && !imported) || s.sets.empty() || s.targets.empty())
        throw InputError(path + ": a study needs heads, image_sets and targets (none may be empty)");
    std::set<std::string> heads, names, sets;
    for (const auto& h : s.heads)
        if (!heads.insert(h.name).second) throw InputError(path + ": head '" + h.name + "' defined twice");
    for (const auto& t : s.targets) {
        if (!imported && !heads.count(t.head)) throw InputError(path + ": target '" + t.name + "' uses unknown head '" + t.head + "'");
        if (!names.insert(t.name).second) throw InputError(path + ": target '" + t.name + "' defined twice");
    }
    for (const auto& st : s.sets) {
        if (!sets.insert(st.name).second) throw InputError(path + ": image set '" + st.name + "' defined twice");
        s.target(st.referenceTarget);
        if (st.condition != "unmasked" && st.condition != "masked")
            throw InputError(path + ": set '" + st.name + "' has condition '" + st.condition + "' (expected unmasked or masked)");
    }
    return s;
}

}  // namespace biasscope::study
