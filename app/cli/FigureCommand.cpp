// `biasscope-cli figure RECORD.safetensors`: per-image figures of a relevance record (the output of
// `lrp` or one record of a study store): input overlay, layer x neuron and layer x token maps.
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include <torch/types.h>

#include "CliSupport.h"
#include "Commands.h"
#include "StudyFigures.h"
#include "common/Error.h"
#include "explain/RelevanceEngine.h"
#include "io/Safetensors.h"
#include "io/Sha256.h"

namespace biasscope::cli {

namespace fs = std::filesystem;

namespace {

struct FigureArgs {
    std::string record, out, image;
    std::vector<std::string> targets, sites;
    std::vector<std::string> formats{"png", "pdf", "svg"};
    int dpi = 300;
    double width = 7.0, height = 3.2, percentile = 100.0, alpha = 0.6;
    bool colour = false;
};

MapData toMap(const at::Tensor& t, const std::string& where) {
    if (t.dim() != 2) throw InputError(where + ": expected a 2-D tensor, got shape " + c10::str(t.sizes()));
    const at::Tensor c = t.to(torch::kFloat32).contiguous();
    if (!torch::isfinite(c).all().item<bool>()) throw InputError(where + ": contains NaN or Inf values");
    MapData m{static_cast<int>(c.size(0)), static_cast<int>(c.size(1)), {}};
    m.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    return m;
}

void run(const FigureArgs& a) {
    checkFigureSize(a.width, a.height, a.dpi);
    const auto rec = io::readSafetensors(a.record);
    std::map<std::string, at::Tensor> t(rec.tensors.begin(), rec.tensors.end());
    std::set<std::string> available;
    for (const auto& [k, v] : t)
        if (k.size() > 6 && k.compare(k.size() - 6, 6, "/input") == 0) available.insert(k.substr(0, k.size() - 6));
    if (available.empty()) throw InputError(a.record + ": no '<target>/input' tensors (not a relevance record from `lrp` or `study run`)");
    std::vector<std::string> targets = a.targets;
    if (targets.empty()) targets.assign(available.begin(), available.end());
    std::string image = a.image;
    if (!image.empty() && !fs::is_regular_file(image)) throw InputError("--image " + image + ": file not found");
    if (image.empty() && rec.metadata.count("image_file") && fs::exists(rec.metadata.at("image_file"))) image = rec.metadata.at("image_file");
    ConsistencyFigureRequest req;
    req.outDir = a.out;
    req.formats = a.formats;
    req.dpi = a.dpi;
    req.width = a.width;
    req.height = a.height;
    req.provenance["record"] = fs::absolute(a.record).string();
    req.provenance["record_sha256"] = io::sha256FileHex(a.record);
    for (const char* k : {"rule", "readout", "model_file", "model_key", "deviations"})
        if (rec.metadata.count(k)) req.provenance[k] = rec.metadata.at(k);
    fs::create_directories(a.out);
    for (const auto& target : targets) {
        if (!available.count(target)) {
            std::string list;
            for (const auto& x : available) list += (list.empty() ? "" : ", ") + x;
            throw InputError(a.record + ": no target '" + target + "' (stored: " + list + ")");
        }
        RelevanceFigureInput in;
        in.stem = fs::path(a.record).stem().string();
        in.target = target;
        in.imageFile = image;
        in.input = toMap(t.at(target + "/input"), a.record + " '" + target + "/input'");
        auto isSite = [](const std::string& name) {  // "<target>/input" and "<target>/accounting" are not sites
            try {
                explain::parseSite(name);
                return true;
            } catch (const std::exception&) {
                return false;
            }
        };
        for (const auto& [k, v] : t) {
            if (k.rfind(target + "/", 0) != 0 || k == target + "/input") continue;
            std::string site = k.substr(target.size() + 1);
            const bool tokens = site.size() > 7 && site.compare(site.size() - 7, 7, "_tokens") == 0;
            if (tokens) site = site.substr(0, site.size() - 7);
            if (!isSite(site)) continue;
            if (!a.sites.empty() && std::find(a.sites.begin(), a.sites.end(), site) == a.sites.end()) continue;
            (tokens ? in.tokens : in.neurons)[site] = toMap(v, a.record + " '" + k + "'");
        }
        for (const auto& s : a.sites)
            if (!in.neurons.count(s) && !in.tokens.count(s)) {
                std::string stored;
                for (const auto& [k, v] : t)
                    if (k.rfind(target + "/", 0) == 0 && isSite(k.substr(target.size() + 1)))
                        stored += (stored.empty() ? "" : ", ") + k.substr(target.size() + 1);
                throw InputError("--site " + s + ": not stored for target '" + target + "' in " + a.record + " (stored: " + stored + ")");
            }
        RelevanceFigureStyle st;
        st.percentile = a.percentile;
        st.alpha = a.alpha;
        st.grayscale = !a.colour;
        renderRelevanceFigures(in, st, req);
    }
}

}  // namespace

void addFigureCommand(CLI::App& app) {
    auto a = std::make_shared<FigureArgs>();
    CLI::App* cmd = app.add_subcommand("figure", "Figures of one relevance record (lrp output or study store record): input overlay, layer x neuron, layer x token");
    cmd->add_option("record", a->record, "a .safetensors written by `lrp` or `study run` (<store>/relevance/<set>/<image>.safetensors)")->required()->check(CLI::ExistingFile);
    cmd->add_option("--out", a->out, "output folder")->required();
    cmd->add_option("--target", a->targets, "target name(s) as stored (default: all)");
    cmd->add_option("--site", a->sites, "site(s): intermediate, final, ln_before, ln_after, attention (default: all stored)");
    cmd->add_option("--image", a->image, "image for the overlay (default: the record's image_file)");
    cmd->add_option("--format", a->formats, "png, tif, pdf, svg (repeatable)")->check(CLI::IsMember({"png", "pdf", "svg", "tif", "tiff"}));
    cmd->add_option("--dpi", a->dpi, "raster resolution")->check(inRange(36, 2400));
    cmd->add_option("--width", a->width, "inches (3.5 one column, 7 two columns)")->check(inRange(1, 40));
    cmd->add_option("--height", a->height, "inches")->check(inRange(1, 40));
    cmd->add_option("--percentile", a->percentile, "colour limit = this percentile of |relevance| (100 = max; 99.5 clips outliers)")->check(inRange(1, 100));
    cmd->add_option("--alpha", a->alpha, "heatmap opacity over the image")->check(inRange(0, 1));
    cmd->add_flag("--colour", a->colour, "keep the image in colour under the heatmap (default: grey)");
    cmd->callback([a]() { run(*a); });
}

}  // namespace biasscope::cli
