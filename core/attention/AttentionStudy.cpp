#include "attention/AttentionStudy.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "attention/RelevanceMaps.h"
#include "attention/Scores.h"
#include "common/Error.h"
#include "data/AttentionData.h"
#include "io/AtomicFile.h"
#include "io/HashCache.h"
#include "io/JsonFile.h"
#include "io/Sha256.h"
#include "model/CnnModel.h"
#include "model/VitForward.h"
#include "model/VitLayouts.h"
#include "model/VitWeights.h"

namespace biasscope::attention {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kLocalisationMeasures[] = {"mass_accuracy", "rank_accuracy", "auc"};

struct MapModel {
    std::string path, name, describe;
    bool vit = false;
    model::CnnModel cnn;
    model::VitModel vitModel;
    std::vector<double> mean, stdv;
    std::vector<std::string> labels;
    int vitLayer = -2;
    VitCamSite vitSite = VitCamSite::BlockOutput;
    MapKind kind = MapKind::GradCam;

    at::Tensor logits(const at::Tensor& x) const {
        at::NoGradGuard ng;
        return vit ? model::headLogits(vitModel.heads.front(), model::vitFeatures(vitModel.backbone, x)) : model::cnnLogits(cnn, x);
    }
    CamResult maps(const at::Tensor& x, CamTarget t, std::int64_t index) const {
        if (kind != MapKind::GradCam) return lrpMaps(vitModel, x, kind == MapKind::CpLrp ? explain::AttentionRule::CP : explain::AttentionRule::AttnLRP, t, index);
        return vit ? vitGradCam(vitModel, "", x, vitLayer, t, index, vitSite) : gradCam(cnn, x, t, index);
    }
};

MapModel loadMapModel(const std::string& path, const AttentionRunOptions& o) {
    const MapKind kind = o.map;
    MapModel m;
    m.path = path;
    m.vitLayer = o.vitLayer;
    m.vitSite = o.vitSite;
    m.kind = kind;
    const fs::path p(path);
    if (!fs::exists(p)) throw InputError(path + ": model not found");
    // a ViT: an HF folder, weights with config.json beside them, or a file in a ViT layout (torchvision, timm)
    const bool vitFile = !fs::is_directory(p) && model::detectVitLayout(model::readStateDict(path)).has_value();
    const bool hfDir = fs::is_directory(p) || fs::exists(p.parent_path() / "config.json") || vitFile;
    if (hfDir) {
        m.vit = true;
        m.vitModel = model::loadVitModel(path);
        m.mean = m.vitModel.backbone.config.imageMean;
        m.stdv = m.vitModel.backbone.config.imageStd;
        m.labels = m.vitModel.heads.front().labels;
        m.describe = "ViT " + std::to_string(m.vitModel.backbone.config.numLayers) + " blocks, " +
                     (kind == MapKind::GradCam ? "GradCAM on block " + std::to_string(o.vitLayer) + (o.vitSite == VitCamSite::Norm1 ? "'s ln_1 output" : "'s output tokens")
                                               : std::string(mapLabel(kind)) + " input heatmaps") +
                     " (" + m.vitModel.sourceLayout + " layout)";
    } else {
        if (kind != MapKind::GradCam)
            throw InputError(path + ": " + mapLabel(kind) + " maps are computed for ViT models (HF checkpoint folders); CNNs have GradCAM maps");
        m.cnn = model::loadCnnModel(path);
        m.mean = m.cnn.imageMean;
        m.stdv = m.cnn.imageStd;
        m.labels = m.cnn.labels;
        m.describe = m.cnn.describe();
    }
    m.name = fs::is_directory(p) ? p.parent_path().filename().string() + "-" + p.filename().string() : p.stem().string();
    return m;
}

struct Item {
    std::string image, mask;
    int group = 0;           // score grouping (celebGroup / waterbirdsGroup)
    int label = 0, conf = 0;  // Waterbirds: y, place; CelebA: A, confounder
};

struct DataView {
    std::vector<Item> items;
    std::vector<std::string> rows, columns;
    int groups = 0;
    bool waterbirds = true;
    std::string tag;  // file-name part: "waterbirds95" / "all_Eyeglasses_Male"
    double trainAgreement = kNaN;  // Waterbirds: fraction of training images whose place agrees with the class (the bias P)
};

data::Split parseSplit(const std::string& s) {
    if (s == "train") return data::Split::Train;
    if (s == "val") return data::Split::Val;
    if (s == "test") return data::Split::Test;
    throw InputError("unknown split '" + s + "' (train | val | test)");
}

DataView loadView(const AttentionRunOptions& o) {
    DataView v;
    const auto split = parseSplit(o.split);
    if (o.dataset == "waterbirds") {
        // the heatmap score compares the maps of two outputs of one model (CelebA: the attribute and the
        // confounder); a Waterbirds model has one class output and no confounder (published: mask score only)
        if (o.score == ScoreKind::Heatmap)
            throw InputError("--score heatmap needs a confounder output (CelebA: --attribute A --confounder Male); Waterbirds has none: use --score mask");
        const auto d = data::loadWaterbirds(o.root);
        const auto idx = d.indices(split);
        for (auto i : idx) v.items.push_back({d.imagePath(i), d.maskPath(i), d.y[i] == d.place[i] ? 0 : 1, d.y[i], d.place[i]});
        double agree = 0, n = 0;
        for (auto i : d.indices(data::Split::Train)) agree += d.y[i] == d.place[i], n += 1;
        if (n > 0) v.trainAgreement = agree / n;
        v.rows = waterbirdsGroupNames();
        v.columns = {"background", "bird"};
        v.groups = 2;
        std::smatch mm;
        const std::string folder = fs::path(o.root).filename().string().empty() ? fs::path(o.root).parent_path().filename().string() : fs::path(o.root).filename().string();
        v.tag = std::regex_search(folder, mm, std::regex("waterbird_complete(\\d+)")) ? "waterbirds" + mm[1].str() : "waterbirds";
    } else if (o.dataset == "celeba") {
        if (o.attribute.empty()) throw InputError("celeba: --attribute is required (the attribute whose map is scored)");
        const auto d = data::loadCelebAMaskHQ(o.root);
        const auto a = d.attributes.labels(o.attribute), m = d.attributes.labels(o.confounder);
        for (auto i : d.indices(split)) v.items.push_back({d.imagePath(i), d.maskPath(i), (a[i] ? 0 : 2) + (m[i] ? 0 : 1), a[i], m[i]});
        v.rows = celebGroupNames();
        for (const auto& g : data::celebMaskGroups()) v.columns.push_back(g.name);
        if (o.score == ScoreKind::Heatmap) v.columns = {o.attribute + " vs " + o.confounder};
        v.groups = 4;
        v.waterbirds = false;
        v.tag = "all_" + o.attribute + "_" + o.confounder;
    } else {
        throw InputError("unknown dataset '" + o.dataset + "' (waterbirds | celeba)");
    }
    if (v.items.empty()) throw InputError(o.root + ": the " + o.split + " split is empty");
    return v;
}

std::int64_t outputIndex(const MapModel& m, const std::string& attribute) {
    for (std::size_t i = 0; i < m.labels.size(); ++i)
        if (m.labels[i] == attribute) return static_cast<std::int64_t>(i);
    const auto& names = data::celebAttributeNames();
    if (m.labels.size() == names.size())
        for (std::size_t i = 0; i < names.size(); ++i)
            if (names[i] == attribute) return static_cast<std::int64_t>(i);
    throw InputError(m.path + ": no output for attribute '" + attribute + "' (labels are not named and the model does not have the 40 CelebA outputs)");
}

at::Tensor loadBatch(const MapModel& m, const std::vector<Item>& items, std::size_t begin, std::size_t end, int size) {
    std::vector<at::Tensor> xs;
    for (std::size_t i = begin; i < end; ++i) xs.push_back(data::attentionEvalImage(items[i].image, size, m.mean, m.stdv));
    return torch::stack(xs);
}

at::Tensor loadMasks(const DataView& v, const Item& it, int size) {
    return v.waterbirds ? data::waterbirdsMasks(it.mask, size) : data::celebGroupMasks(it.mask, size);
}

// one number of a CSV: 9 significant digits, NaN as numpy writes it (a stream writes "-nan" for some NaNs)
void csvNumber(std::ostream& s, double x) {
    if (std::isnan(x))
        s << "nan";
    else
        s << x;
}

std::string csvRow(const std::vector<double>& xs) {
    std::ostringstream s;
    s.precision(9);
    for (std::size_t i = 0; i < xs.size(); ++i) {
        s << (i ? "," : "");
        csvNumber(s, xs[i]);
    }
    return s.str();
}

// The per-image table of one model: image, group, then one value per column name.
std::string perImageCsv(const DataView& v, const std::vector<std::string>& columns, const Matrix& values) {
    std::string csv = "image,group";
    for (const auto& c : columns) csv += "," + c;
    csv += "\n";
    for (std::size_t i = 0; i < values.size(); ++i)
        csv += fs::path(v.items[i].image).filename().string() + "," + v.rows[static_cast<std::size_t>(v.items[i].group)] + "," + csvRow(values[i]) + "\n";
    return csv;
}

// "<column>:<measure>" for every score column and localisation measure, in the tables' order
std::vector<std::string> localisationColumnNames(const std::vector<std::string>& columns) {
    std::vector<std::string> out;
    for (const auto& c : columns)
        for (const char* m : kLocalisationMeasures) out.push_back(c + ":" + m);
    return out;
}

// The content of a model's weights: the file's SHA-256, or for a checkpoint folder that of every file in it.
std::string modelContentKey(const std::string& path) {
    if (!fs::is_directory(path)) return io::cachedSha256FileHex(path);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(path))
        if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::string all;
    for (const auto& f : files) all += f.filename().string() + "=" + io::cachedSha256FileHex(f.string()) + ";";
    return io::sha256Hex(all);
}

// The options that change a map or a score, as the per-model key and the sidecar record them.
nlohmann::json scoreOptionsJson(const AttentionRunOptions& o) {
    return {{"score", o.score == ScoreKind::Mask ? "mask" : "heatmap"},
            {"map", mapLabel(o.map)},
            {"dataset", o.dataset},
            {"split", o.split},
            {"attribute", o.attribute},
            {"confounder", o.confounder},
            {"size", o.size},
            {"vit_layer", o.vitLayer},
            {"vit_site", toString(o.vitSite)},
            {"positive_scores", o.positiveScores}};
}

// Everything that determines one model's per-image table: the model's content, every option that changes a
// map or a score, and the image list with its labels and groups. A resumed table must carry this key.
std::string perModelKey(const AttentionRunOptions& o, const DataView& v, const std::string& modelPath) {
    nlohmann::json j = scoreOptionsJson(o);
    j["format"] = "biasscope.aiou-per-model.v2";
    j["model_sha256"] = modelContentKey(modelPath);
    std::string images;
    for (const auto& it : v.items) images += it.image + "|" + it.mask + "|" + std::to_string(it.label) + "|" + std::to_string(it.conf) + "|" + std::to_string(it.group) + "\n";
    j["images_sha256"] = io::sha256Hex(images);
    j["columns"] = v.columns;
    return io::sha256Hex(j.dump());
}

// The resume point of one model: its per-image CSV and, written after it, <csv>.json holding the key, the
// CSV's SHA-256 and the model's warnings. Resumed only when both are there, the key matches and the CSV is
// the one the manifest names (a kill between the two writes recomputes the model).
bool readResumeManifest(const std::string& csvPath, const std::string& key, std::vector<std::string>& warnings, const std::string& localisationPath) {
    const fs::path manifest = csvPath + ".json";
    if (!fs::exists(manifest) || !fs::exists(csvPath)) return false;
    try {
        const nlohmann::json j = io::readJsonFile(manifest.string(), "per-model resume manifest");
        if (j.value("key", std::string()) != key || j.value("csv_sha256", std::string()) != io::sha256FileHex(csvPath)) return false;
        if (!localisationPath.empty() &&
            (!fs::exists(localisationPath) || j.value("localisation_csv_sha256", std::string()) != io::sha256FileHex(localisationPath)))
            return false;
        warnings = j.value("warnings", std::vector<std::string>());
        return true;
    } catch (const std::exception&) {
        return false;  // damaged manifest: recompute
    }
}

// per-image scores of one model, from an earlier run (resume) if it matches
bool readPerImage(const std::string& path, const DataView& v, Matrix& out, std::size_t perColumn = 1) {
    std::ifstream in(path);
    if (!in) return false;
    std::string line;
    std::getline(in, line);
    Matrix m;
    std::size_t i = 0;
    while (std::getline(in, line)) {
        std::stringstream ss(line);
        std::string image, cell;
        std::getline(ss, image, ',');
        if (i >= v.items.size() || image != fs::path(v.items[i].image).filename().string()) return false;
        std::getline(ss, cell, ',');  // group
        std::vector<double> row;
        while (std::getline(ss, cell, ',')) {
            if (cell == "nan") {
                row.push_back(kNaN);
                continue;
            }
            char* end = nullptr;
            const double x = std::strtod(cell.c_str(), &end);
            if (cell.empty() || *end != '\0') return false;  // not a table this run wrote: recompute
            row.push_back(x);
        }
        if (row.size() != v.columns.size() * perColumn) return false;
        m.push_back(row);
        ++i;
    }
    if (m.size() != v.items.size()) return false;
    out = std::move(m);
    return true;
}

}  // namespace

MapKind parseMapKind(const std::string& s) {
    if (s == "gradcam") return MapKind::GradCam;
    if (s == "attnlrp") return MapKind::AttnLrp;
    if (s == "cp-lrp") return MapKind::CpLrp;
    throw InputError("unknown map type '" + s + "' (gradcam | attnlrp | cp-lrp)");
}

const char* mapLabel(MapKind k) { return k == MapKind::GradCam ? "GradCAM" : k == MapKind::AttnLrp ? "AttnLRP" : "CPLRP"; }

std::pair<Matrix, Matrix> ScoreSummary::localisationTable(const std::string& measure) const {
    std::size_t m = 0;
    while (m < std::size(kLocalisationMeasures) && measure != kLocalisationMeasures[m]) ++m;
    if (m == std::size(kLocalisationMeasures)) throw InputError("unknown localisation measure '" + measure + "' (mass_accuracy | rank_accuracy | auc)");
    if (localisationMean.empty()) throw InputError(path + ": this result has no localisation measures (a heatmap run, or made before they existed)");
    Matrix mean(rows.size()), sd(rows.size());
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t c = 0; c < columns.size(); ++c) {
            mean[r].push_back(localisationMean[r][c * std::size(kLocalisationMeasures) + m]);
            sd[r].push_back(localisationStd[r][c * std::size(kLocalisationMeasures) + m]);
        }
    return {mean, sd};
}

ScoreSummary readScoreSummary(const std::string& path) {
    const nlohmann::json j = io::readJsonFile(path, "Attention-IoU score sidecar");
    ScoreSummary s;
    s.path = path;
    try {
        s.score = j.at("score").get<std::string>();
        s.map = j.value("map", "GradCAM");
        s.dataset = j.at("dataset").get<std::string>();
        s.attribute = j.value("attribute", "");
        s.confounder = j.value("confounder", "");
        s.rows = j.at("rows").get<std::vector<std::string>>();
        s.columns = j.at("columns").get<std::vector<std::string>>();
        s.models = j.at("models").get<std::vector<std::string>>();
        const auto num = [](const nlohmann::json& a) {
            Matrix m;
            for (const auto& row : a) {
                std::vector<double> r;
                for (const auto& x : row) r.push_back(x.is_number() ? x.get<double>() : kNaN);
                m.push_back(r);
            }
            return m;
        };
        s.mean = num(j.at("mean"));
        s.std = num(j.at("std_population"));
        if (j.contains("uniform_baseline")) s.uniform = num(j.at("uniform_baseline"));
        if (j.contains("localisation")) {
            const auto& l = j.at("localisation");
            s.localisationColumns = l.at("columns").get<std::vector<std::string>>();
            s.localisationMean = num(l.at("mean"));
            s.localisationStd = num(l.at("std_population"));
            if (s.localisationMean.size() != s.rows.size() || s.localisationStd.size() != s.rows.size() ||
                s.localisationColumns.size() != s.columns.size() * std::size(kLocalisationMeasures))
                throw InputError(path + ": the localisation block does not match the rows and columns");
            for (std::size_t r = 0; r < s.rows.size(); ++r)
                if (s.localisationMean[r].size() != s.localisationColumns.size() || s.localisationStd[r].size() != s.localisationColumns.size())
                    throw InputError(path + ": a localisation row has the wrong length");
        }
        s.trainAgreement = j.contains("train_place_agreement") ? j.at("train_place_agreement").get<double>() : kNaN;
        // the evaluation of the same models and data, when it was run into the same folder
        const fs::path eval = fs::path(path).parent_path() / ("evaluation-" + j.value("tag", std::string("?")) + ".json");
        if (fs::exists(eval)) {
            const nlohmann::json e = io::readJsonFile(eval.string(), "Attention-IoU evaluation");
            const auto names = e.at("metrics").get<std::vector<std::string>>();
            for (std::size_t i = 0; i < names.size(); ++i)
                if (names[i].rfind("mcc_pred_", 0) == 0) s.mcc = {e.at("mean")[i].get<double>(), e.at("std_population")[i].get<double>()};
            if (e.contains("worst_group") && e["worst_group"].at("mean").is_number())
                s.worstGroupAccuracy = {e["worst_group"]["mean"].get<double>(), e["worst_group"]["std"].get<double>()};
        }
    } catch (const nlohmann::json::exception& e) {
        throw InputError(path + ": not an Attention-IoU score sidecar (" + io::jsonErrorText(e) + ")");
    }
    if (s.mean.size() != s.rows.size() || s.std.size() != s.rows.size())
        throw InputError(path + ": " + std::to_string(s.mean.size()) + " mean rows for " + std::to_string(s.rows.size()) + " groups");
    for (const auto& r : s.mean)
        if (r.size() != s.columns.size()) throw InputError(path + ": a mean row has " + std::to_string(r.size()) + " values for " + std::to_string(s.columns.size()) + " columns");
    return s;
}

MapSample sampleMaps(const AttentionRunOptions& o, const std::string& modelPath, std::size_t first, std::size_t count, CamTarget target, std::int64_t index) {
    const DataView v = loadView(o);
    const MapModel m = loadMapModel(modelPath, o);
    MapSample r;
    r.splitSize = v.items.size();
    if (first >= v.items.size()) throw InputError(o.root + ": image " + std::to_string(first) + " is past the end of the " + o.split + " split (" + std::to_string(v.items.size()) + " images)");
    const std::size_t end = std::min(v.items.size(), first + std::max<std::size_t>(count, 1));
    r.maskNames = v.columns;
    if (!v.waterbirds) {
        r.maskNames.clear();
        for (const auto& g : data::celebMaskGroups()) r.maskNames.push_back(g.name);
    }
    std::vector<at::Tensor> ms;
    for (std::size_t i = first; i < end; ++i) {
        const Item& it = v.items[i];
        r.images.push_back(it.image);
        r.groupNames.push_back(v.rows[static_cast<std::size_t>(it.group)]);
        r.labels.push_back(it.label);
        r.confounders.push_back(it.conf);
        ms.push_back(loadMasks(v, it, o.size));
    }
    r.pixels = loadBatch(m, v.items, first, end, o.size);
    r.masks = torch::stack(ms);
    if (!v.waterbirds) {
        const CamTarget t = o.positiveScores ? CamTarget::Logit : CamTarget::AbsLogit;
        r.map = m.maps(r.pixels, t, outputIndex(m, o.attribute));
        r.confounderMap = m.maps(r.pixels, t, outputIndex(m, o.confounder));
    } else {
        r.map = m.maps(r.pixels, target, index);
    }
    r.modelName = m.name;
    r.modelDescription = m.describe;
    r.mapLabel = mapLabel(o.map);
    r.imageMean = m.mean;
    r.imageStd = m.stdv;
    return r;
}

AttentionRunResult runAttentionScores(const AttentionRunOptions& o, const JobControl& job) {
    if (o.models.empty()) throw InputError("no models given");
    if (o.outDir.empty()) throw InputError("no output folder given");
    const DataView v = loadView(o);
    fs::create_directories(fs::path(o.outDir) / "models");
    io::removeStaleTemporaries(o.outDir);
    AttentionRunResult r;
    r.rowNames = v.rows;
    r.columnNames = v.columns;
    r.images = v.items.size();
    std::vector<int> groups;
    for (const auto& it : v.items) groups.push_back(it.group);
    const std::size_t total = o.models.size() * v.items.size();
    // the uniform-attention baseline, done right (published bug 1): the uniform map against every mask
    if (o.score == ScoreKind::Mask) {
        Matrix u;
        for (const auto& it : v.items) {
            const at::Tensor masks = loadMasks(v, it, o.size).contiguous();
            const at::Tensor ones = torch::ones({o.size, o.size});
            std::vector<double> row;
            for (std::int64_t c = 0; c < masks.size(0); ++c)
                row.push_back(attentionIoU(ones.data_ptr<float>(), masks[c].contiguous().data_ptr<float>(), static_cast<std::size_t>(o.size) * o.size));
            u.push_back(row);
        }
        r.uniformBaseline = groupMeans(u, groups, v.groups, true);
    }
    std::set<std::string> names;
    for (std::size_t k = 0; k < o.models.size(); ++k) {
        MapModel m = loadMapModel(o.models[k], o);
        std::string name = m.name;
        for (int d = 2; names.count(name); ++d) name = m.name + "-" + std::to_string(d);
        names.insert(name);
        r.modelNames.push_back(name);
        const std::string perImagePath = (fs::path(o.outDir) / "models" / (name + (o.map == MapKind::GradCam ? "" : std::string(".") + mapLabel(o.map)) + ".csv")).string();
        Matrix perImage, perImageLoc;  // perImageLoc (mask scores): per column mass accuracy, rank accuracy, AUC
        const bool localise = o.score == ScoreKind::Mask;
        const std::string locPath = localise ? perImagePath.substr(0, perImagePath.size() - 4) + ".localisation.csv" : "";
        const std::string key = perModelKey(o, v, o.models[k]);
        std::vector<std::string> modelWarnings;
        if (readResumeManifest(perImagePath, key, modelWarnings, locPath) && readPerImage(perImagePath, v, perImage) &&
            (!localise || readPerImage(locPath, v, perImageLoc, std::size(kLocalisationMeasures)))) {
            ++r.resumedModels;
            r.warnings.insert(r.warnings.end(), modelWarnings.begin(), modelWarnings.end());
        } else {
            perImage.clear();
            perImageLoc.clear();
            const CamTarget target = v.waterbirds ? CamTarget::PredictedClass : (o.positiveScores ? CamTarget::Logit : CamTarget::AbsLogit);
            const std::int64_t ia = v.waterbirds ? 0 : outputIndex(m, o.attribute);
            const std::int64_t im = (!v.waterbirds && o.score == ScoreKind::Heatmap) ? outputIndex(m, o.confounder) : -1;
            for (std::size_t b = 0; b < v.items.size(); b += static_cast<std::size_t>(o.batchSize)) {
                job.checkCancelled();
                const std::size_t e = std::min(v.items.size(), b + static_cast<std::size_t>(o.batchSize));
                const at::Tensor x = loadBatch(m, v.items, b, e, o.size);
                const CamResult ca = m.maps(x, target, ia);
                for (const auto& w : ca.warnings)
                    modelWarnings.push_back(name + ": " + fs::path(v.items[b + static_cast<std::size_t>(w.image)].image).filename().string() + ": " + w.message);
                CamResult cm;
                if (im >= 0) cm = m.maps(x, target, im);
                for (std::size_t i = b; i < e; ++i) {
                    const auto bi = static_cast<std::int64_t>(i - b);
                    const at::Tensor p = ca.maps[bi].contiguous();
                    const std::size_t n = static_cast<std::size_t>(p.numel());
                    std::vector<double> row;
                    if (o.score == ScoreKind::Heatmap) {
                        const at::Tensor q = cm.maps[bi].contiguous();
                        row.push_back(attentionIoU(p.data_ptr<float>(), q.data_ptr<float>(), n));
                    } else {
                        const at::Tensor masks = loadMasks(v, v.items[i], o.size).contiguous();
                        std::vector<double> loc;
                        for (std::int64_t c = 0; c < masks.size(0); ++c) {
                            const at::Tensor mc = masks[c].contiguous();
                            const float* P = p.data_ptr<float>();
                            const float* Q = mc.data_ptr<float>();
                            row.push_back(attentionIoU(P, Q, n));
                            loc.push_back(relevanceMassAccuracy(P, Q, n));
                            loc.push_back(relevanceRankAccuracy(P, Q, n));
                            loc.push_back(localisationAuc(P, Q, n));
                        }
                        perImageLoc.push_back(loc);
                    }
                    perImage.push_back(row);
                }
                job.report(static_cast<double>(k * v.items.size() + e) / static_cast<double>(total), name + ": " + std::to_string(e) + " / " + std::to_string(v.items.size()) + " images");
            }
            const std::string csv = perImageCsv(v, v.columns, perImage);
            io::writeFileAtomically(perImagePath, csv);
            nlohmann::json manifest{{"key", key}, {"csv_sha256", io::sha256Hex(csv)}, {"model", o.models[k]}, {"warnings", modelWarnings}};
            if (localise) {
                const std::string lcsv = perImageCsv(v, localisationColumnNames(v.columns), perImageLoc);
                io::writeFileAtomically(locPath, lcsv);
                manifest["localisation_csv_sha256"] = io::sha256Hex(lcsv);
            }
            io::writeFileAtomically(perImagePath + ".json", manifest.dump(2));  // the resume point: a model is done (both files) or not
            r.warnings.insert(r.warnings.end(), modelWarnings.begin(), modelWarnings.end());
        }
        r.perModel.push_back(groupMeans(perImage, groups, v.groups, o.score == ScoreKind::Mask));
        if (localise) r.localisationPerModel.push_back(groupMeans(perImageLoc, groups, v.groups, false));  // undefined values skipped
    }
    r.aggregate = aggregateModels(r.perModel);
    if (!r.localisationPerModel.empty()) {
        r.localisation = aggregateModels(r.localisationPerModel);
        r.localisationColumns = localisationColumnNames(v.columns);
        r.localisationCsvPath = (fs::path(o.outDir) / ("Localisation-" + v.tag + "_" + mapLabel(o.map) + "_scores.csv")).string();
        std::ostringstream s;
        s.precision(9);
        s << "row,column,measure,mean,std_population,models\n";
        for (std::size_t g = 0; g < v.rows.size(); ++g)
            for (std::size_t c = 0; c < r.localisationColumns.size(); ++c) {
                constexpr std::size_t kMeasures = std::size(kLocalisationMeasures);
                s << v.rows[g] << "," << v.columns[c / kMeasures] << "," << kLocalisationMeasures[c % kMeasures] << ",";
                csvNumber(s, r.localisation.mean[g][c]);
                s << ",";
                csvNumber(s, r.localisation.std[g][c]);
                s << "," << r.localisation.models[g][c] << "\n";
            }
        io::writeFileAtomically(r.localisationCsvPath, s.str());
    }
    const std::string stem = std::string(o.score == ScoreKind::Mask ? "Masks-" : "Heatmap-") + v.tag + "_" + mapLabel(o.map) + "_element_wise_normalized_averaged_scores";
    r.csvPath = (fs::path(o.outDir) / (stem + ".csv")).string();
    r.sidecarPath = (fs::path(o.outDir) / (stem + ".json")).string();
    io::writeFileAtomically(r.csvPath, v.waterbirds ? waterbirdsCsv(r.aggregate) : celebCsv(r.aggregate));
    nlohmann::json j = scoreOptionsJson(o);  // + vit_layer and positive_scores since the resume key (they change the maps)
    if (o.map != MapKind::GradCam)
        j["map_note"] = "LRP input heatmap of the explained output, positive part, min-max scaled (negative relevance dropped as GradCAM's ReLU drops it)";
    j["root"] = o.root;
    j["target"] = v.waterbirds ? "predicted class" : (o.positiveScores ? "z_t" : "|z_t|");
    j["tag"] = v.tag;
    j["rows"] = v.rows;
    j["columns"] = v.columns;
    if (!std::isnan(v.trainAgreement)) j["train_place_agreement"] = v.trainAgreement;
    j["layout"] = v.waterbirds ? "published Waterbirds layout: one row per column (background, bird); mean same, different, all, then std"
                               : "published CelebA layout: mean rows TT, TF, FT, FF, all, then std rows; one column per score column";
    j["models"] = r.modelNames;
    j["model_paths"] = o.models;
    j["images"] = r.images;
    j["mean"] = r.aggregate.mean;
    j["std_population"] = r.aggregate.std;
    j["per_model"] = r.perModel;
    if (!r.uniformBaseline.empty()) j["uniform_baseline"] = r.uniformBaseline;
    j["nan_rule"] = o.score == ScoreKind::Mask ? "mask score: an empty mask or all-zero map scores 0 and counts in the mean (published)"
                                               : "heatmap score: NaN skipped (published)";
    j["deviations"] = nlohmann::json::array(
        {"uniform_baseline is the uniform map scored against every image's masks (the published 'Uniform Attention' row is one model's GradCAM scores, bug 1)",
         "a batch of one image and the group statistics of empty groups are handled (published: squeeze error / RuntimeWarning)"});
    if (!r.localisationPerModel.empty())
        j["localisation"] = {{"csv", fs::path(r.localisationCsvPath).filename().string()},
                             {"measures", {"mass_accuracy: sum of the map inside the mask / sum of the map (Arras et al. 2022)",
                                           "rank_accuracy: share of the mask among its |mask| highest-ranked pixels, ties by expected share (Arras et al. 2022)",
                                           "auc: ROC AUC of the map as a score for mask membership (ties count 1/2)"}},
                             {"mask", "binarised at 0.5"},
                             {"nan_rule", "undefined values (an empty mask, an all-zero map, a mask covering every pixel) are skipped in the means"},
                             {"columns", r.localisationColumns},
                             {"mean", r.localisation.mean},
                             {"std_population", r.localisation.std},
                             {"per_model", r.localisationPerModel},
                             {"note", "not part of the published study"}};
    j["warnings"] = r.warnings;
    io::writeFileAtomically(r.sidecarPath, j.dump(2));
    return r;
}

EvaluationResult runEvaluation(const AttentionRunOptions& o, const JobControl& job) {
    if (o.models.empty()) throw InputError("no models given");
    const DataView v = loadView(o);
    fs::create_directories(o.outDir);
    EvaluationResult r;
    std::vector<std::vector<double>> groupAcc;
    std::vector<std::size_t> groupSizes(4, 0);
    for (const auto& it : v.items) groupSizes[static_cast<std::size_t>(v.waterbirds ? 2 * it.label + it.conf : it.group)] += 1;
    nlohmann::json models = nlohmann::json::array();
    for (std::size_t k = 0; k < o.models.size(); ++k) {
        const MapModel m = loadMapModel(o.models[k], o);
        std::vector<int> predA, predM, truth, gidx;
        std::string csv;
        const std::int64_t ia = v.waterbirds ? 0 : outputIndex(m, o.attribute), im = v.waterbirds ? 0 : outputIndex(m, o.confounder);
        for (std::size_t b = 0; b < v.items.size(); b += static_cast<std::size_t>(o.batchSize)) {
            job.checkCancelled();
            const std::size_t e = std::min(v.items.size(), b + static_cast<std::size_t>(o.batchSize));
            const at::Tensor z = m.logits(loadBatch(m, v.items, b, e, o.size));
            if (!torch::isfinite(z).all().item<bool>()) throw InputError(m.path + ": non-finite logits on the evaluation images");
            for (std::int64_t i = 0; i < z.size(0); ++i) {
                const Item& it = v.items[b + static_cast<std::size_t>(i)];
                if (v.waterbirds) {
                    const int p = static_cast<int>(z[i].argmax().item<std::int64_t>());
                    predA.push_back(p);
                    csv += std::to_string(p) + "\n";
                    gidx.push_back(2 * it.label + it.conf);
                } else {
                    // round(sigmoid(z)) with round-half-to-even: p = 0.5 gives 0, i.e. predicted 1 iff z > 0
                    std::string line;
                    for (std::int64_t c = 0; c < z.size(1); ++c) line += (c ? "," : "") + std::to_string(z[i][c].item<float>() > 0 ? 1 : 0);
                    csv += line + "\n";
                    predA.push_back(z[i][ia].item<float>() > 0);
                    predM.push_back(z[i][im].item<float>() > 0);
                    gidx.push_back(it.group);
                }
                truth.push_back(it.label);
            }
            job.report(static_cast<double>(k * v.items.size() + e) / static_cast<double>(o.models.size() * v.items.size()), m.name);
        }
        io::writeFileAtomically((fs::path(o.outDir) / ("evaluations-" + m.name + ".csv")).string(), csv);
        std::vector<double> row;
        double acc = 0;
        for (std::size_t i = 0; i < truth.size(); ++i) acc += predA[i] == truth[i];
        row.push_back(acc / static_cast<double>(truth.size()));
        if (!v.waterbirds) row.push_back(mcc(predA, predM));
        const auto ga = groupAccuracies(predA, truth, gidx, 4);
        row.insert(row.end(), ga.begin(), ga.end());
        groupAcc.push_back(ga);
        r.perModel.push_back(row);
        models.push_back(m.name);
    }
    r.metricNames = {"accuracy"};
    if (!v.waterbirds) r.metricNames.push_back("mcc_pred_" + o.attribute + "_" + o.confounder);
    const std::vector<std::string> gn = v.waterbirds ? std::vector<std::string>{"landbird_land", "landbird_water", "waterbird_land", "waterbird_water"}
                                                     : std::vector<std::string>{"TT", "TF", "FT", "FF"};
    for (const auto& g : gn) r.metricNames.push_back("accuracy_" + g);
    const auto agg = aggregateModels([&] {
        std::vector<Matrix> ms;
        for (const auto& pm : r.perModel) ms.push_back(Matrix{pm});
        return ms;
    }());
    r.mean = agg.mean.front();
    r.std = agg.std.front();
    const WorstGroup wg = worstGroup(groupAcc, groupSizes);
    r.jsonPath = (fs::path(o.outDir) / ("evaluation-" + v.tag + ".json")).string();  // one per data set / attribute, so runs can share a folder
    nlohmann::json j;
    j["dataset"] = o.dataset;
    j["split"] = o.split;
    j["models"] = models;
    j["metrics"] = r.metricNames;
    j["per_model"] = r.perModel;
    j["mean"] = r.mean;
    j["std_population"] = r.std;
    j["group_sizes"] = groupSizes;
    j["worst_group"] = {{"group", wg.group >= 0 ? gn[static_cast<std::size_t>(wg.group)] : ""}, {"mean", wg.mean}, {"std", wg.std}, {"min_fraction", 0.01}};
    io::writeFileAtomically(r.jsonPath, j.dump(2));
    return r;
}

}  // namespace biasscope::attention
