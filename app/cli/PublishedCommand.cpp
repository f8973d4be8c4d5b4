// `biasscope-cli published ...`: analyses of the published Python pipeline's outputs.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "CliSupport.h"
#include "Commands.h"
#include "StudyFigures.h"
#include "analysis/NeuronConsistency.h"
#include "common/Error.h"
#include "io/AtomicFile.h"
#include "io/Sha256.h"
#include "study/PublishedRun.h"


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
    checkFigureSize(a.width, a.height, a.dpi);
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
    std::map<std::string, std::vector<std::string>> byCondition;
    std::map<std::string, std::map<std::string, std::vector<double>>> percent;
    std::map<std::string, int> images;
    for (const auto& [set, sites] : curves) {
        byCondition[set.rfind("masked_", 0) == 0 ? "masked" : "unmasked"];
        for (const auto& [site, points] : sites) {
            for (const auto& p : points) percent[set][site].push_back(p.percent);
            images[set] = points.front().images;
        }
    }
    for (auto& [condition, sets] : byCondition) {
        const std::string prefix = condition == "masked" ? "masked_" : "";
        for (const std::string g : {"male", "female"})
            if (curves.count(prefix + g)) sets.push_back(prefix + g);
    }
    ConsistencyFigureRequest req{a.out, a.formats, a.dpi, a.width, a.height, a.threshold, {{"input", fs::absolute(a.input).string()}, {"top_k_json_key", "top5_index"}}};
    for (const auto& [set, sites] : curves)
        if (fs::exists(fs::path(a.input) / set / "scores.json"))
            req.provenance["sha256 " + set + "/scores.json"] = io::sha256FileHex((fs::path(a.input) / set / "scores.json").string());
    renderConsistencyFigures(byCondition, percent, images, req);
}

}  // namespace

void addPublishedCommand(CLI::App& app) {
    CLI::App* pub = app.add_subcommand("published", "Analyses of the published Python pipeline's outputs (vit_relevance/)");
    pub->require_subcommand(1);
    auto a = std::make_shared<ConsistencyArgs>();
    CLI::App* cmd = pub->add_subcommand("consistency", "Neuron consistency per set, site and layer: CSV and the published figure (PNG/PDF/SVG)");
    cmd->add_option("--vit-relevance", a->input, "the published vit_relevance/ folder")->required();
    cmd->add_option("--out", a->out, "output folder")->required();
    cmd->add_option("--threshold", a->threshold, "gender-confidence threshold (published 0.9; robustness run 0.5)")->check(inRange(0, 1));
    cmd->add_option("--format", a->formats, "png, tif, pdf, svg (repeatable)")->check(CLI::IsMember({"png", "pdf", "svg", "tif", "tiff"}));
    cmd->add_option("--dpi", a->dpi, "raster resolution")->check(inRange(36, 2400));
    cmd->add_option("--width", a->width, "inches (3.5 one column, 7 two columns)")->check(inRange(1, 40));
    cmd->add_option("--height", a->height, "inches")->check(inRange(1, 40));
    cmd->callback([a]() { runConsistency(*a); });
}

}  // namespace biasscope::cli
