#include "ProjectFile.h"

#include <cmath>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QSaveFile>

#include "common/Error.h"

namespace biasscope::ui {

namespace {

const char* typeName(const QJsonValue& v) {
    switch (v.type()) {
    case QJsonValue::Null: return "null";
    case QJsonValue::Bool: return "a boolean";
    case QJsonValue::Double: return "a number";
    case QJsonValue::String: return "a string";
    case QJsonValue::Array: return "a list";
    case QJsonValue::Object: return "an object";
    default: return "undefined";
    }
}

// Typed access to one object's keys; every error names the file and "<prefix><key>".
class Fields {
public:
    Fields(const QJsonObject& o, QString where, QString prefix) : o_(o), where_(std::move(where)), prefix_(std::move(prefix)) {}

    QString string(const char* key, const QString& def, const QStringList& allowed = {}) const {
        const QJsonValue v = o_.value(key);
        if (v.isUndefined()) return def;
        if (!v.isString()) fail(key, QString("must be a string, found %1").arg(typeName(v)));
        const QString s = v.toString();
        if (s.size() > 4096) fail(key, QString("is %1 characters long, at most 4096").arg(s.size()));
        if (!allowed.isEmpty() && !allowed.contains(s)) fail(key, QString("is '%1', expected %2").arg(s, allowed.join(" | ")));
        return s;
    }
    int integer(const char* key, int def, int lo, int hi) const {
        const QJsonValue v = o_.value(key);
        if (v.isUndefined()) return def;
        const double d = v.toDouble(std::nan(""));
        if (!v.isDouble() || d != std::floor(d) || d < lo || d > hi)
            fail(key, QString("is %1, expected a whole number in %2..%3").arg(shortText(v)).arg(lo).arg(hi));
        return static_cast<int>(d);
    }
    double number(const char* key, double def, double lo, double hi) const {
        const QJsonValue v = o_.value(key);
        if (v.isUndefined()) return def;
        const double d = v.toDouble(std::nan(""));
        if (!v.isDouble() || !std::isfinite(d) || d < lo || d > hi) fail(key, QString("is %1, expected a number in [%2, %3]").arg(shortText(v)).arg(lo).arg(hi));
        return d;
    }
    bool boolean(const char* key, bool def) const {
        const QJsonValue v = o_.value(key);
        if (v.isUndefined()) return def;
        if (!v.isBool()) fail(key, QString("must be true or false, found %1").arg(typeName(v)));
        return v.toBool();
    }
    QJsonObject object(const char* key) const {
        const QJsonValue v = o_.value(key);
        if (v.isUndefined()) return {};
        if (!v.isObject()) fail(key, QString("must be an object, found %1").arg(typeName(v)));
        return v.toObject();
    }
    QJsonArray array(const char* key) const {
        const QJsonValue v = o_.value(key);
        if (v.isUndefined()) return {};
        if (!v.isArray()) fail(key, QString("must be a list, found %1").arg(typeName(v)));
        return v.toArray();
    }
    bool has(const char* key) const { return o_.contains(key); }
    [[noreturn]] void fail(const char* key, const QString& what) const {
        throw InputError(QString("%1: '%2%3' %4").arg(where_, prefix_, key, what).toStdString());
    }

private:
    static QString shortText(const QJsonValue& v) {
        if (v.isDouble()) return QString::number(v.toDouble(), 'g', 12);
        if (v.isString()) return "'" + v.toString().left(40) + "'";
        return typeName(v);
    }
    QJsonObject o_;
    QString where_, prefix_;
};

}  // namespace

bool ExplorerState::operator==(const ExplorerState& o) const { return explorerStateToJson(*this) == explorerStateToJson(o); }

QJsonObject explorerStateToJson(const ExplorerState& s) {
    QJsonObject j;
    j["store"] = s.store;
    j["set_filter"] = s.setFilter;
    j["min_confidence"] = s.minConfidence;
    j["image"] = s.image;
    j["target"] = s.target;
    j["site"] = s.site;
    j["layer"] = s.layer;
    j["neuron"] = QJsonArray{s.neuronLayer, s.neuron};
    j["limits"] = s.limits;
    j["fixed_limit"] = s.fixedLimit;
    j["percentile"] = s.percentile;
    j["alpha"] = s.alpha;
    j["grayscale"] = s.grayscale;
    j["bilinear"] = s.bilinear;
    j["top_k"] = s.topK;
    j["max_q"] = s.maxQ;
    j["table_layer"] = s.tableLayer;
    j["search"] = s.search;
    j["similarity_set"] = s.similaritySet;
    j["significance_style"] = s.significanceStyle;
    j["sem"] = s.sem;
    j["analysis_tab"] = s.analysisTab;
    return j;
}

ExplorerState explorerStateFromJson(const QJsonObject& o, const QString& where) {
    const Fields f(o, where, "explorer.");
    ExplorerState s;
    s.store = f.string("store", s.store);
    s.setFilter = f.string("set_filter", s.setFilter);
    s.minConfidence = f.number("min_confidence", s.minConfidence, 0, 1);
    s.image = f.string("image", s.image);
    s.target = f.string("target", s.target);
    s.site = f.string("site", s.site);
    s.layer = f.integer("layer", s.layer, -1, 999);
    if (f.has("neuron")) {
        const QJsonArray n = f.array("neuron");
        const bool ints = n.size() == 2 && n[0].isDouble() && n[1].isDouble() && n[0].toDouble() == std::floor(n[0].toDouble()) &&
                          n[1].toDouble() == std::floor(n[1].toDouble()) && n[0].toDouble() >= -1 && n[0].toDouble() <= 999 &&
                          n[1].toDouble() >= -1 && n[1].toDouble() <= 1e8;
        if (!ints) f.fail("neuron", "must be [layer, neuron], two whole numbers (-1 for none)");
        s.neuronLayer = n[0].toInt();
        s.neuron = n[1].toInt();
    }
    s.limits = f.string("limits", s.limits, {"image", "set", "fixed"});
    s.fixedLimit = f.number("fixed_limit", s.fixedLimit, 1e-9, 1e9);
    s.percentile = f.number("percentile", s.percentile, 50, 100);
    s.alpha = f.integer("alpha", s.alpha, 0, 100);
    s.grayscale = f.boolean("grayscale", s.grayscale);
    s.bilinear = f.boolean("bilinear", s.bilinear);
    s.topK = f.integer("top_k", s.topK, 1, 100);
    s.maxQ = f.number("max_q", s.maxQ, 0, 1);
    s.tableLayer = f.integer("table_layer", s.tableLayer, -1, 999);
    s.search = f.string("search", s.search);
    s.similaritySet = f.string("similarity_set", s.similaritySet);
    s.significanceStyle = f.string("significance_style", s.significanceStyle, {"hide", "fade", "outline"});
    s.sem = f.boolean("sem", s.sem);
    s.analysisTab = f.integer("analysis_tab", s.analysisTab, 0, kMaxProjectTab);
    return s;
}

QJsonObject projectToJson(const ProjectFile& p) {
    QJsonObject j;
    j["format"] = "biasscope.project.v1";
    j["tab"] = p.tab;
    j["explorer"] = explorerStateToJson(p.explorer);
    const auto& a = p.attention;
    j["attention"] = QJsonObject{{"dataset", a.dataset}, {"root", a.root},   {"models", QJsonArray::fromStringList(a.models)},
                                 {"map", a.map},         {"score", a.score}, {"attribute", a.attribute},
                                 {"confounder", a.confounder}, {"split", a.split}, {"size", a.size},
                                 {"out", a.out}};
    j["relevance"] = QJsonObject{{"model", p.relevance.model}, {"image", p.relevance.image}, {"device", p.relevance.device}};
    if (p.hasSettings) j["settings"] = QJsonObject{{"device", p.settings.device}, {"threads", p.settings.threads}, {"cache_dir", p.settings.cacheDir}};
    return j;
}

ProjectFile projectFromJson(const QByteArray& bytes, const QString& where) {
    QJsonParseError err{};
    const QJsonDocument doc = QJsonDocument::fromJson(bytes, &err);
    if (err.error != QJsonParseError::NoError) throw InputError(QString("%1: not a project file (JSON: %2 at byte %3)").arg(where, err.errorString()).arg(err.offset).toStdString());
    if (!doc.isObject()) throw InputError(QString("%1: not a project file (a project is a JSON object)").arg(where).toStdString());
    const QJsonObject root = doc.object();
    const Fields top(root, where, "");
    if (top.string("format", "") != "biasscope.project.v1") throw InputError(QString("%1: not a BiasScope project ('format' is not biasscope.project.v1)").arg(where).toStdString());
    ProjectFile p;
    p.tab = top.integer("tab", p.tab, 0, kMaxProjectTab);
    p.explorer = explorerStateFromJson(top.object("explorer"), where);
    const Fields a(top.object("attention"), where, "attention.");
    auto& at = p.attention;
    at.dataset = a.string("dataset", at.dataset, {"waterbirds", "celeba"});
    at.root = a.string("root", at.root);
    const QJsonArray models = a.array("models");
    if (models.size() > 4096) a.fail("models", QString("lists %1 models, at most 4096").arg(models.size()));
    for (const auto& m : models) {
        if (!m.isString() || m.toString().isEmpty()) a.fail("models", QString("must list model paths (strings), found %1").arg(typeName(m)));
        at.models.push_back(m.toString());
    }
    at.map = a.string("map", at.map, {"GradCAM", "AttnLRP", "CPLRP"});
    at.score = a.string("score", at.score, {"mask", "heatmap"});
    at.attribute = a.string("attribute", at.attribute);
    at.confounder = a.string("confounder", at.confounder);
    at.split = a.string("split", at.split, {"train", "val", "test"});
    at.size = a.integer("size", at.size, 16, 4096);
    at.out = a.string("out", at.out);
    const Fields r(top.object("relevance"), where, "relevance.");
    p.relevance.model = r.string("model", "");
    p.relevance.image = r.string("image", "");
    p.relevance.device = r.string("device", "");
    p.hasSettings = top.has("settings");
    if (p.hasSettings) {
        const Fields s(top.object("settings"), where, "settings.");
        p.settings.device = s.string("device", p.settings.device);
        p.settings.threads = s.integer("threads", p.settings.threads, 0, 1024);
        p.settings.cacheDir = s.string("cache_dir", p.settings.cacheDir);
    }
    return p;
}

ProjectFile readProjectFile(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) throw InputError((path + ": cannot open the project (" + f.errorString() + ")").toStdString());
    if (f.size() > kMaxProjectBytes) throw InputError(QString("%1: %2 bytes, a project file is at most 16 MiB").arg(path).arg(f.size()).toStdString());
    QByteArray bytes;  // read in pieces: a buffer of the whole limit per call would cost 16 MiB each time
    while (bytes.size() <= kMaxProjectBytes) {
        const QByteArray piece = f.read(1 << 16);
        if (piece.isEmpty()) break;
        bytes += piece;
    }
    if (bytes.size() > kMaxProjectBytes) throw InputError(QString("%1: over 16 MiB, a project file is at most 16 MiB").arg(path).toStdString());
    return projectFromJson(bytes, path);
}

void writeProjectFile(const QString& path, const ProjectFile& p) {
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(projectToJson(p)).toJson()) < 0 || !f.commit())
        throw Error((path + ": could not write the project (" + f.errorString() + ")").toStdString());
}

}  // namespace biasscope::ui
