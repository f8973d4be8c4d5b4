#include "StudyFigures.h"

#include <filesystem>
#include <iostream>

#include "common/Error.h"

#ifdef BIASSCOPE_HAS_FIGURES
#include <QApplication>
#include <QJsonArray>
#include <QJsonObject>
#include <qcustomplot.h>

#include "figures/AttentionFigures.h"
#include "figures/ConsistencyFigure.h"
#include "figures/FaithfulnessFigure.h"
#include "figures/FigureExport.h"
#include "figures/RelevanceMaps.h"
#include "figures/SimilarityHeatmap.h"
#endif

namespace biasscope::cli {

#ifdef BIASSCOPE_HAS_FIGURES
namespace {

// One QApplication per process for offscreen rendering (headless servers get the offscreen platform).
void ensureQtApplication() {
    if (QApplication::instance()) return;
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM") && !qEnvironmentVariableIsSet("DISPLAY")) qputenv("QT_QPA_PLATFORM", "offscreen");
    static int argc = 1;
    static char name[] = "biasscope-cli";
    static char* argv[] = {name, nullptr};
    static QApplication app(argc, argv);
}

QString displayName(const std::string& set) {
    std::string s = set.rfind("masked_", 0) == 0 ? set.substr(7) : set;
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return QString::fromStdString(s);
}

}  // namespace

void renderConsistencyFigures(const std::map<std::string, std::vector<std::string>>& setsByCondition,
                              const std::map<std::string, std::map<std::string, std::vector<double>>>& curves, const std::map<std::string, int>& images,
                              const ConsistencyFigureRequest& r) {
    namespace fs = std::filesystem;
    ensureQtApplication();
    const QColor blockColours[] = {QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e), QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b)};
    const QColor geluColours[] = {QColor(0x2c, 0xa0, 0x2c), QColor(0xd6, 0x27, 0x28), QColor(0xe3, 0x77, 0xc2), QColor(0x7f, 0x7f, 0x7f)};
    for (const auto& [condition, sets] : setsByCondition) {
        std::vector<ui::ConsistencySeries> series;
        QStringList counts;
        for (const auto& [site, label, colours, dashed] :
             std::vector<std::tuple<std::string, QString, const QColor*, bool>>{{"final", "block output", blockColours, true}, {"intermediate", "post-GELU", geluColours, false}})
            for (std::size_t i = 0; i < sets.size() && i < 4; ++i) {
                auto c = curves.find(sets[i]);
                if (c == curves.end() || !c->second.count(site)) continue;
                series.push_back({displayName(sets[i]) + ", " + label, c->second.at(site), colours[i], dashed, dashed, {}, {}});
                if (auto iv = r.intervals.find(sets[i]); iv != r.intervals.end() && iv->second.count(site)) {
                    series.back().low = iv->second.at(site).first;
                    series.back().high = iv->second.at(site).second;
                }
            }
        if (series.empty()) continue;
        for (const auto& s : sets)
            if (images.count(s)) counts << QString("%1 %2").arg(images.at(s)).arg(displayName(s).toLower());
        QString caption = QString("n = %1 images with confidence ≥ %2. 'Block output' = residual stream after the MLP (the paper's 'Post_LayerNorm').")
                              .arg(counts.join(", "))
                              .arg(r.threshold);
        if (!r.intervals.empty() && !r.intervalNote.empty()) caption += " Bars: " + QString::fromStdString(r.intervalNote) + ".";
        QCustomPlot plot;
        plot.resize(static_cast<int>(r.width * 96), static_cast<int>(r.height * 96));
        ui::buildConsistencyFigure(plot, QString("Consistency of top-ranked neurons per layer (%1 images)").arg(QString::fromStdString(condition)), series, caption);
        QJsonObject prov;
        prov["kind"] = "consistency";
        prov["condition"] = QString::fromStdString(condition);
        prov["threshold"] = r.threshold;
        for (const auto& [k, v] : r.provenance) prov[QString::fromStdString(k)] = QString::fromStdString(v);
        for (const auto& fmt : r.formats) {
            const std::string path = (fs::path(r.outDir) / (condition + "_consistency." + fmt)).string();
            ui::exportFigure(plot, QString::fromStdString(path), {r.width, r.height, r.dpi, false}, prov);
            std::cout << "wrote " << path << "\n";
        }
    }
}
void renderSimilarityFigures(const std::map<std::string, std::map<std::string, SimilarityFigureInput>>& bySetSite, const std::string& style,
                             const ConsistencyFigureRequest& r) {
    namespace fs = std::filesystem;
    ensureQtApplication();
    const ui::SignificanceStyle s = ui::parseSignificanceStyle(QString::fromStdString(style));
    const QString styleNote = s == ui::SignificanceStyle::Hide   ? "Cells with FDR q ≥ 0.05 are hidden (as published)."
                              : s == ui::SignificanceStyle::Fade ? "Cells with FDR q ≥ 0.05 are faded."
                                                                 : "Cells with FDR q < 0.05 are outlined.";
    for (const auto& [set, sites] : bySetSite)
        for (const auto& [site, in] : sites) {
            ui::LabelLayerGrid grid;
            for (const auto& l : in.labels) grid.labels << QString::fromStdString(l);
            grid.layers = in.layers;
            grid.values = in.mean;
            grid.significant = in.significant;
            const QString where = QString("%1, %2").arg(QString::fromStdString(set), site == "final" ? "block output" : QString::fromStdString(site));
            QCustomPlot plot;
            plot.resize(static_cast<int>(r.width * 96), static_cast<int>(r.height * 96));
            ui::buildSimilarityHeatmap(plot, "Cosine similarity to the gender relevance (" + where + ")", grid, s,
                                       styleNote + QString(" Mean over images with confidence ≥ %1; one-sample t-test, Benjamini-Hochberg over all cells.").arg(r.threshold));
            QJsonObject prov;
            prov["kind"] = "similarity";
            prov["set"] = QString::fromStdString(set);
            prov["site"] = QString::fromStdString(site);
            prov["significance_style"] = QString::fromStdString(style);
            prov["threshold"] = r.threshold;
            for (const auto& [k, v] : r.provenance) prov[QString::fromStdString(k)] = QString::fromStdString(v);
            for (const auto& fmt : r.formats) {
                const std::string path = (fs::path(r.outDir) / ("similarity_" + set + "_" + site + "." + fmt)).string();
                ui::exportFigure(plot, QString::fromStdString(path), {r.width, r.height, r.dpi, false}, prov);
                std::cout << "wrote " << path << "\n";
            }
            grid.values = in.sem;
            ui::buildSemHeatmap(plot, "Standard error of the mean similarity (" + where + ")", grid, "");
            prov["kind"] = "similarity_sem";
            for (const auto& fmt : r.formats) {
                const std::string path = (fs::path(r.outDir) / ("sem_" + set + "_" + site + "." + fmt)).string();
                ui::exportFigure(plot, QString::fromStdString(path), {r.width, r.height, r.dpi, false}, prov);
                std::cout << "wrote " << path << "\n";
            }
        }
}
void renderRelevanceFigures(const RelevanceFigureInput& in, const RelevanceFigureStyle& st, const ConsistencyFigureRequest& r) {
    namespace fs = std::filesystem;
    ensureQtApplication();
    const std::string base = in.stem + "_" + in.target;
    QJsonObject prov;
    prov["target"] = QString::fromStdString(in.target);
    prov["image"] = QString::fromStdString(in.imageFile);
    prov["percentile_limit"] = st.percentile;
    for (const auto& [k, v] : r.provenance) prov[QString::fromStdString(k)] = QString::fromStdString(v);
    auto save = [&](QCustomPlot& plot, const std::string& name, QJsonObject p) {
        for (const auto& fmt : r.formats) {
            const std::string path = (fs::path(r.outDir) / (name + "." + fmt)).string();
            ui::exportFigure(plot, QString::fromStdString(path), {r.width, r.height, r.dpi, false}, p);
            std::cout << "wrote " << path << "\n";
        }
    };
    const QString limitNote = st.percentile >= 100 ? QString("limits ±max|R|") : QString("limits ±%1th percentile of |R| (clipped)").arg(st.percentile);
    QCustomPlot plot;
    plot.resize(static_cast<int>(r.width * 96), static_cast<int>(r.height * 96));
    if (in.input.rows > 0) {
        QImage rgb;
        if (!in.imageFile.empty() && !rgb.load(QString::fromStdString(in.imageFile)))
            std::cerr << "biasscope-cli: warning: " << in.imageFile << ": cannot read the image; the heatmap is drawn on white\n";
        ui::OverlayOptions o;
        o.percentile = st.percentile;
        o.alpha = st.alpha;
        o.grayscale = st.grayscale;
        const double lim = ui::symmetricLimit(in.input.values.data(), in.input.values.size(), st.percentile);
        o.limit = lim;
        ui::buildInputOverlayFigure(plot, QString("Input relevance: %1, target %2").arg(QString::fromStdString(in.stem), QString::fromStdString(in.target)),
                                                       rgb, in.input.values.data(), in.input.columns, in.input.rows, o,
                                                       QString("Blue negative, red positive, white 0; %1 = %2; alpha %3%4.")
                                                           .arg(limitNote).arg(lim, 0, 'g', 4).arg(st.alpha).arg(st.grayscale && !rgb.isNull() ? ", image in grey" : ""));
        QJsonObject p = prov;
        p["kind"] = "input_overlay";
        p["limit"] = lim;
        p["alpha"] = st.alpha;
        save(plot, base + "_input", p);
    }
    for (const auto& [what, maps] : std::vector<std::pair<std::string, const std::map<std::string, MapData>*>>{{"neurons", &in.neurons}, {"tokens", &in.tokens}})
        for (const auto& [site, m] : *maps) {
            ui::LayerMap lm;
            lm.layers = m.rows;
            lm.columns = m.columns;
            lm.values = m.values;
            lm.columnLabel = what == "neurons" ? (site == "intermediate" ? "post-GELU neuron" : "hidden unit") : "token (0 = CLS, then patches row by row)";
            const double lim = ui::symmetricLimit(m.values.data(), m.values.size(), st.percentile);
            const QString siteName = site == "final" ? "block output" : site == "intermediate" ? "post-GELU" : QString::fromStdString(site);
            ui::buildLayerMapFigure(plot, QString("%1 relevance per layer (%2): %3, target %4").arg(what == "neurons" ? "Neuron" : "Token", siteName,
                                                                                                  QString::fromStdString(in.stem), QString::fromStdString(in.target)),
                                    lm, lim, QString("Raw relevance (sum over %1), blue-white-red centred on 0, %2 = %3.")
                                                 .arg(what == "neurons" ? "tokens" : "features", limitNote).arg(lim, 0, 'g', 4));
            QJsonObject p = prov;
            p["kind"] = QString::fromStdString("layer_x_" + what);
            p["site"] = QString::fromStdString(site);
            p["limit"] = lim;
            save(plot, base + "_" + site + "_" + what, p);
        }
}
void renderAttentionFigure(const std::vector<std::string>& sidecars, const std::string& kind, const std::string& stem, const ConsistencyFigureRequest& r) {
    namespace fs = std::filesystem;
    ensureQtApplication();
    std::vector<attention::ScoreSummary> results;
    for (const auto& p : sidecars) results.push_back(attention::readScoreSummary(p));
    const ui::AttentionFigure f = kind == "bars" ? ui::AttentionFigure::MaskBars : kind == "bias" ? ui::AttentionFigure::ScoreVsBias : ui::AttentionFigure::HeatmapScatter;
    QCustomPlot plot;
    plot.resize(static_cast<int>(r.width * 96), static_cast<int>(r.height * 96));
    ui::buildAttentionFigure(plot, f, results);
    QJsonObject prov;
    prov["kind"] = QString::fromStdString("attention-iou " + kind);
    QJsonArray inputs;
    for (const auto& p : sidecars) inputs.append(QString::fromStdString(p));
    prov["results"] = inputs;
    for (const auto& [k, v] : r.provenance) prov[QString::fromStdString(k)] = QString::fromStdString(v);
    fs::create_directories(r.outDir);
    for (const auto& fmt : r.formats) {
        const std::string path = (fs::path(r.outDir) / (stem + "." + fmt)).string();
        ui::exportFigure(plot, QString::fromStdString(path), {r.width, r.height, r.dpi, false}, prov);
        std::cout << "wrote " << path << "\n";
    }
}
void renderFaithfulnessFigure(const std::vector<explain::FaithfulnessSummary>& summary, const std::string& subtitle, const ConsistencyFigureRequest& r) {
    namespace fs = std::filesystem;
    ensureQtApplication();
    QCustomPlot plot;
    plot.resize(static_cast<int>(r.width * 96), static_cast<int>(r.height * 96));
    ui::buildFaithfulnessFigure(plot, QString::fromStdString("Pixel flipping · " + subtitle), summary, {});
    QJsonObject prov;
    prov["kind"] = "faithfulness";
    for (const auto& [k, v] : r.provenance) prov[QString::fromStdString(k)] = QString::fromStdString(v);
    fs::create_directories(r.outDir);
    for (const auto& fmt : r.formats) {
        const std::string path = (fs::path(r.outDir) / ("faithfulness_curves." + fmt)).string();
        ui::exportFigure(plot, QString::fromStdString(path), {r.width, r.height, r.dpi, false}, prov);
        std::cout << "wrote " << path << "\n";
    }
}
#else
void renderFaithfulnessFigure(const std::vector<explain::FaithfulnessSummary>&, const std::string&, const ConsistencyFigureRequest&) {
    std::cerr << "biasscope-cli: note: built without the GUI libraries; figures are not rendered (CSV tables only)\n";
}
void renderAttentionFigure(const std::vector<std::string>&, const std::string&, const std::string&, const ConsistencyFigureRequest&) {
    // asked for nothing but a figure: refuse rather than succeed with no output
    throw InputError("aiou figure: this biasscope-cli was built without the GUI libraries (BIASSCOPE_BUILD_GUI=OFF) and renders no figures");
}
void renderRelevanceFigures(const RelevanceFigureInput&, const RelevanceFigureStyle&, const ConsistencyFigureRequest&) {
    throw InputError("figure: this biasscope-cli was built without the GUI libraries (BIASSCOPE_BUILD_GUI=OFF) and renders no figures");
}
void renderSimilarityFigures(const std::map<std::string, std::map<std::string, SimilarityFigureInput>>&, const std::string&, const ConsistencyFigureRequest&) {}
void renderConsistencyFigures(const std::map<std::string, std::vector<std::string>>&, const std::map<std::string, std::map<std::string, std::vector<double>>>&,
                              const std::map<std::string, int>&, const ConsistencyFigureRequest&) {
    std::cerr << "biasscope-cli: note: built without the GUI libraries; figures are not rendered (CSV tables only)\n";
}
#endif

}  // namespace biasscope::cli
