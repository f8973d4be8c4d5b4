#pragma once
// The project file (JSON, format "biasscope.project.v1"): the open tab, the explorer's view state, the
// Attention-IoU request, the relevance tab's model / image / device and the settings. This is its one
// writer and its one reader; MainWindow and StudyExplorer only fill and apply the struct. Qt Core only,
// so the reader is fuzzed on its own (tests/fuzz).
//
// Reading checks every known key's type and range and throws InputError naming the file and the key
// ("p.json: 'attention.size' is 100000, expected 16..4096"); a missing key takes its default. Unknown
// keys are ignored, so a newer BiasScope's project opens in an older one.
#include <QJsonObject>
#include <QString>
#include <QStringList>

namespace biasscope::ui {

struct ExplorerState {
    QString store, setFilter, image, target, site, limits = "image", search, similaritySet, significanceStyle = "hide";
    double minConfidence = 0, fixedLimit = 1.0, percentile = 99.5, maxQ = 0.05;
    int layer = 0, alpha = 60, topK = 5, tableLayer = -1, analysisTab = 0;
    int neuronLayer = -1, neuron = -1;  // -1: none selected
    bool grayscale = true, bilinear = false, sem = false;
    bool operator==(const ExplorerState& o) const;
};

struct ProjectFile {
    int tab = 0;
    ExplorerState explorer;
    struct Attention {
        QString dataset = "waterbirds", root, map = "GradCAM", score = "mask", attribute, confounder = "Male", split = "test", out;
        QStringList models;
        int size = 224;
    } attention;
    struct Relevance {
        QString model, image, device;
    } relevance;
    bool hasSettings = false;
    struct Settings {
        QString device = "auto", cacheDir;
        int threads = 0;
    } settings;
};

constexpr int kMaxProjectTab = 31;
constexpr qint64 kMaxProjectBytes = 16 << 20;

QJsonObject explorerStateToJson(const ExplorerState& s);
// `where` names the file in errors; keys are reported as "explorer.<key>".
ExplorerState explorerStateFromJson(const QJsonObject& o, const QString& where);

QJsonObject projectToJson(const ProjectFile& p);
ProjectFile projectFromJson(const QByteArray& bytes, const QString& where);

// Throws InputError naming the file (missing, unreadable, over 16 MiB, not JSON, not a project, a bad key).
ProjectFile readProjectFile(const QString& path);
// Atomic (QSaveFile); throws Error naming the file.
void writeProjectFile(const QString& path, const ProjectFile& p);

}  // namespace biasscope::ui
