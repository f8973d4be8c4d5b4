// `biasscope-cli published ...`: analyses of the published Python pipeline's outputs.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "Commands.h"
#include "analysis/NeuronConsistency.h"
#include "common/Error.h"
#include "io/AtomicFile.h"
#include "io/Sha256.h"
#include "study/PublishedRun.h"

#ifdef BIASSCOPE_HAS_FIGURES
#include <QApplication>
#include <QJsonArray>
#include <QJsonObject>
#include <qcustomplot.h>

#include "figures/ConsistencyFigure.h"
#include "figures/FigureExport.h"
#endif

namespace biasscope::cli {

namespace fs = std::filesystem;

namespace {

struct ConsistencyArgs {
    std::string input, out;
    double threshold = 0.9;
    std::vector<std::string> formats{"png", "pdf", "svg"};
    int dpi = 300;
    double width = 7.0, height = 4.2;
};

const char* siteLabel(const std::string& site) { return site == "final" ? "block output" : "post-GELU"; }

void runConsistency(const ConsistencyArgs& a) {
    const auto sets = study::readPublishedRelevance(a.input);
    std::map<std::string, std::map<std::string, std::vector<analysis::ConsistencyPoint>>> curves;  // set -> site -> layers
    std::ostringstream csv;
    csv << std::setprecision(17) << "set,site,site_label,layer,consistency_percent,neuron,count,images,threshold\n";
    for (const auto& set : sets) {
        for (const std::string site : {"final", "intermediate"}) {
            const auto topK = study::passingTopK(set, site, a.threshold);
            if (topK.empty()) {
                std::cerr << "biasscope-cli: warning: set '" << set.name << "': no image has confidence >= " << a.threshold << "; no curve\n";
                continue;
            }
            const auto c = analysis::neuronConsistency(topK);
            curves[set.name][site] = c;
            for (std::size_t l = 0; l < c.size(); ++l)
                csv << set.name << "," << site << "," << siteLabel(site) << "," << l << "," << c[l].percent << "," << c[l].neuron << ","
                    << c[l].count << "," << c[l].images << "," << a.threshold << "\n";
        }
    }
    fs::create_directories(a.out);
    io::writeFileAtomically((fs::path(a.out) / "consistency.csv").string(), csv.str());
    std::cout << "wrote " << (fs::path(a.out) / "consistency.csv").string() << "\n";
#ifdef BIASSCOPE_HAS_FIGURES
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM") && !qEnvironmentVariableIsSet("DISPLAY")) qputenv("QT_QPA_PLATFORM", "offscreen");
    int argc = 1;
    char name[] = "biasscope-cli";
    char* argv[] = {name, nullptr};
    QApplication app(argc, argv);
    for (const auto& [condition, prefix] : std::vector<std::pair<std::string, std::string>>{{"unmasked", ""}, {"masked", "masked_"}}) {
        const std::string male = prefix + "male", female = prefix + "female";
        if (!curves.count(male) && !curves.count(female)) continue;
        std::vector<ui::ConsistencySeries> series;
        auto add = [&](const std::string& set, const std::string& site, const QString& label, const QColor& colour, bool dashed) {
            if (!curves.count(set) || !curves[set].count(site)) return;
            std::vector<double> p;
            for (const auto& pt : curves[set][site]) p.push_back(pt.percent);
            series.push_back({label, p, colour, dashed, dashed});
        };
        add(male, "final", "Male, block output", QColor(0x1f, 0x77, 0xb4), true);
        add(female, "final", "Female, block output", QColor(0xff, 0x7f, 0x0e), true);
        add(male, "intermediate", "Male, post-GELU", QColor(0x2c, 0xa0, 0x2c), false);
        add(female, "intermediate", "Female, post-GELU", QColor(0xd6, 0x27, 0x28), false);
        const auto n = [&](const std::string& set) { return curves.count(set) ? curves[set].begin()->second.front().images : 0; };
        const QString caption = QString("n = %1 male, %2 female images with gender confidence ≥ %3. 'Block output' = residual stream after the MLP "
                                        "(the paper's 'Post_LayerNorm').")
                                    .arg(n(male))
                                    .arg(n(female))
                                    .arg(a.threshold);
        QCustomPlot plot;
        plot.resize(static_cast<int>(a.width * 96), static_cast<int>(a.height * 96));
        ui::buildConsistencyFigure(plot, QString("Consistency of top-ranked neurons per layer (%1 images)").arg(QString::fromStdString(condition)),
                                   series, caption);
        QJsonObject prov;
        prov["kind"] = "consistency";
        prov["condition"] = QString::fromStdString(condition);
        prov["input"] = QString::fromStdString(fs::absolute(a.input).string());
        prov["threshold"] = a.threshold;
        prov["top_k_json_key"] = "top5_index";
        QJsonObject hashes;
        for (const auto& set : {male, female})
            if (fs::exists(fs::path(a.input) / set / "scores.json"))
                hashes[QString::fromStdString(set + "/scores.json")] = QString::fromStdString(io::sha256FileHex((fs::path(a.input) / set / "scores.json").string()));
        prov["input_sha256"] = hashes;
        for (const auto& fmt : a.formats) {
            const std::string path = (fs::path(a.out) / (condition + "_consistency." + fmt)).string();
            ui::exportFigure(plot, QString::fromStdString(path), {a.width, a.height, a.dpi, false}, prov);
            std::cout << "wrote " << path << "\n";
        }
    }
#else
    std::cerr << "biasscope-cli: note: built without the GUI libraries; figures are not rendered (CSV only)\n";
#endif
}

}  // namespace

void addPublishedCommand(CLI::App& app) {
    CLI::App* pub = app.add_subcommand("published", "Analyses of the published Python pipeline's outputs (vit_relevance/)");
    pub->require_subcommand(1);
    auto a = std::make_shared<ConsistencyArgs>();
    CLI::App* cmd = pub->add_subcommand("consistency", "Neuron consistency per set, site and layer: CSV and the published figure (PNG/PDF/SVG)");
    cmd->add_option("--vit-relevance", a->input, "the published vit_relevance/ folder")->required();
    cmd->add_option("--out", a->out, "output folder")->required();
    cmd->add_option("--threshold", a->threshold, "gender-confidence threshold (published 0.9; robustness run 0.5)");
    cmd->add_option("--format", a->formats, "png, tif, pdf, svg (repeatable)");
    cmd->add_option("--dpi", a->dpi, "raster resolution");
    cmd->add_option("--width", a->width, "inches (3.5 one column, 7 two columns)");
    cmd->add_option("--height", a->height, "inches");
    cmd->callback([a]() { runConsistency(*a); });
}

}  // namespace biasscope::cli
