#include "study/StudyMerge.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/Error.h"
#include "io/AtomicFile.h"
#include "io/JsonFile.h"
#include "io/Safetensors.h"
#include "io/SafetensorsHeader.h"
#include "study/StudyDefinition.h"

namespace biasscope::study {

namespace fs = std::filesystem;

namespace {

std::string readBytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw Error(p.string() + ": cannot read");
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

struct Record {
    fs::path file;
    std::string relative;  // relevance/<set>/<stem>.safetensors
    std::map<std::string, std::string> meta;
};

std::string metaValue(const Record& r, const std::string& key) {
    auto it = r.meta.find(key);
    return it == r.meta.end() ? std::string() : it->second;
}

std::vector<Record> recordsOf(const fs::path& store) {
    std::vector<Record> out;
    const fs::path rel = store / "relevance";
    if (!fs::is_directory(rel)) return out;
    for (const auto& e : fs::recursive_directory_iterator(rel)) {
        if (!e.is_regular_file() || e.path().extension() != ".safetensors") continue;
        Record r{e.path(), fs::relative(e.path(), store).string(), {}};
        try {
            r.meta = io::readSafetensorsHeader(e.path().string()).metadata;
        } catch (const Error& err) {
            throw InputError(e.path().string() + ": unreadable record (" + err.what() + "); delete it and rerun `study run` for it");
        }
        out.push_back(std::move(r));
    }
    std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) { return a.relative < b.relative; });
    return out;
}

}  // namespace

MergeReport mergeStores(const std::vector<std::string>& sources, const std::string& outDir) {
    if (sources.empty()) throw InputError("study merge: no source stores given");
    // 1. every source (and an existing destination) describes the same study
    std::vector<std::string> stores(sources);
    const bool destHasStudy = fs::exists(fs::path(outDir) / "study.json");
    if (destHasStudy) stores.insert(stores.begin(), outDir);
    std::string paramsKey, keyFrom;
    std::vector<std::string> setNames;
    for (const auto& s : stores) {
        const fs::path file = fs::path(s) / "study.json";
        if (!fs::exists(file)) throw InputError(file.string() + ": missing (not a study store written by `study run`)");
        const StudyDefinition d = readStudyDefinition(file.string());
        std::vector<std::string> names;
        for (const auto& set : d.sets) names.push_back(set.name);
        if (keyFrom.empty()) {
            paramsKey = d.parametersKey();
            keyFrom = file.string();
            setNames = names;
        } else if (d.parametersKey() != paramsKey || names != setNames) {
            throw InputError(file.string() + ": another study (targets, sites, rule, readout or image sets differ from " + keyFrom + ")");
        }
    }
    // 2. all records agree on model and parameters; duplicates are the same image
    std::map<std::string, Record> chosen;  // relative path -> first record seen (destination first)
    std::vector<std::pair<Record, const Record*>> incoming;
    std::string modelKey, modelFrom;
    auto check = [&](const Record& r) {
        const std::string m = metaValue(r, "model_key"), p = metaValue(r, "params_key");
        if (metaValue(r, "format") == "biasscope.study-image-topk.v1") return;  // imported records carry no model
        if (p != paramsKey) throw InputError(r.file.string() + ": computed with other parameters (params_key " + p + ", study " + paramsKey + ")");
        if (modelFrom.empty()) {
            modelKey = m;
            modelFrom = r.file.string();
        } else if (m != modelKey) {
            throw InputError(r.file.string() + ": computed with another model (model_key " + m + ") than " + modelFrom + " (" + modelKey + ")");
        }
    };
    for (const auto& s : stores) {
        const bool isDest = destHasStudy && s == stores.front();
        for (auto& r : recordsOf(s)) {
            check(r);
            auto it = chosen.find(r.relative);
            if (it == chosen.end()) {
                chosen.emplace(r.relative, r);
                if (!isDest) incoming.emplace_back(r, nullptr);
            } else {
                if (metaValue(r, "image_sha256") != metaValue(it->second, "image_sha256"))
                    throw InputError(r.file.string() + " and " + it->second.file.string() + ": same set and name, different images (image_sha256 differs)");
                incoming.emplace_back(r, &it->second);
            }
        }
    }
    // 3. copy
    MergeReport report;
    fs::create_directories(outDir);
    if (!destHasStudy) io::writeFileAtomically((fs::path(outDir) / "study.json").string(), readBytes(fs::path(sources.front()) / "study.json"));
    for (const auto& [r, existing] : incoming) {
        const fs::path dest = fs::path(outDir) / r.relative;
        if (fs::exists(dest) && fs::equivalent(dest, r.file)) {
            ++report.identical;
            continue;
        }
        const std::string bytes = readBytes(r.file);
        if (existing) {
            if (readBytes(existing->file) == bytes) ++report.identical;
            else ++report.equivalent;
            if (fs::exists(dest)) continue;
        }
        fs::create_directories(dest.parent_path());
        io::writeFileAtomically(dest.string(), bytes);
        if (!existing) ++report.copied;
    }
    return report;
}

}  // namespace biasscope::study
