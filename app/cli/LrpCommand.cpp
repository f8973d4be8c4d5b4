#include <chrono>
#include <iostream>
#include <memory>

#include <torch/types.h>
#include <torch/utils.h>

#include "CliSupport.h"
#include "Commands.h"
#include "common/Device.h"
#include "common/Error.h"
#include "explain/RelevanceEngine.h"
#include "explain/RelevanceExport.h"
#include "io/ImageIO.h"
#include "io/Safetensors.h"
#include "io/Sha256.h"
#include "model/VitWeights.h"
#include "preprocess/ImagePreprocessor.h"

namespace biasscope::cli {

namespace {

struct LrpArgs {
    std::string model, config, head, image, out, rule = "cp", readout = "relevance", device = "auto";
    std::vector<std::string> targets, sites{"intermediate", "final"};
    bool gamma = false;
    double gammaConv = 0.25, gammaLinear = 0.05;
    int threads = 0;
};

void runLrp(const LrpArgs& a) {
    explain::RelevanceOptions opt;
    opt.rule = explain::parseAttentionRule(a.rule);
    opt.readout = explain::parseReadout(a.readout);
    opt.sites.clear();
    for (const auto& s : a.sites) {
        try {
            opt.sites.push_back(explain::parseSite(s));
        } catch (const Error& e) {
            throw InputError("--site " + s + ": " + e.what());
        }
    }
    opt.gamma = {a.gamma, a.gammaConv, a.gammaLinear};
    configureCpuThreads(a.threads);
    const c10::Device device = resolveDevice(a.device);

    model::VitModel model = model::loadVitModel(a.model, a.config.empty() ? std::nullopt : std::optional<std::string>(a.config), a.head);
    if (model.configInferred)
        std::cerr << "biasscope-cli: warning: " << a.model << " has no config.json; geometry inferred from tensor shapes (heads = hidden/64, labels LABEL_i)\n";
    const auto& head = model.heads.front();
    std::vector<explain::Target> targets;
    for (const auto& t : a.targets) {
        const int c = head.labelIndex(t);
        if (c < 0) throw InputError("--target " + t + ": not a class of head '" + head.name + "' (" + std::to_string(head.labels.size()) + " classes)");
        bool dup = false;
        for (const auto& e : targets) dup = dup || e.classIndex == c;
        if (!dup) targets.push_back({0, c});
    }
    const at::Tensor pixels = preprocess::vitPixels(io::loadRgbImage(a.image), model.backbone.config).to(device);
    model = model.to(device);  // (invalidates `head`)

    const auto t0 = std::chrono::steady_clock::now();
    explain::RelevanceResult r;
    try {
        r = explain::explainBatched(model, pixels, targets, opt);
    } catch (const Cancelled&) {
        throw;
    } catch (const Error& e) {
        throw Error(a.model + " on " + a.image + ": " + e.what());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    explain::ExportProvenance prov{a.model, model.heads.front().sourceSha256, a.image, io::sha256FileHex(a.image), describeDevice(device)};
    io::writeSafetensors(a.out, explain::relevanceTensors(r, 0), explain::relevanceMetadata(opt, prov, model, 0));
    std::cout << "wrote " << a.out << ": " << targets.size() << " target(s), rule " << a.rule << ", readout " << a.readout << ", "
              << secs << " s on " << describeDevice(device) << "\n";
}

}  // namespace

void addLrpCommand(CLI::App& app) {
    auto args = std::make_shared<LrpArgs>();
    CLI::App* cmd = app.add_subcommand("lrp", "Relevance (CP-LRP / AttnLRP) of one image for one or more targets, to a safetensors file");
    cmd->add_option("--model", args->model, "HF model directory, .safetensors or torch.save .pth")->required();
    cmd->add_option("--config", args->config, "config.json (default: beside the weights, else inferred)");
    cmd->add_option("--head", args->head, "name given to the classifier head");
    cmd->add_option("--image", args->image, "image file")->required();
    cmd->add_option("--target", args->targets, "class index or label to explain (repeatable)")->required();
    cmd->add_option("--rule", args->rule, "cp (published) or attnlrp")->check(CLI::IsMember({"cp", "attnlrp"}));
    cmd->add_option("--readout", args->readout, "relevance (act x grad) or gradient (published)")->check(CLI::IsMember({"relevance", "gradient"}));
    cmd->add_option("--site", args->sites, "intermediate, final, ln_before, ln_after, attention (repeatable)");
    cmd->add_flag("--gamma", args->gamma, "Gamma rule on patch conv, MLP and classifier");
    cmd->add_option("--gamma-conv", args->gammaConv, "Gamma of the patch conv")->check(inRange(0, 100));
    cmd->add_option("--gamma-linear", args->gammaLinear, "Gamma of the linear layers")->check(inRange(0, 100));
    cmd->add_option("--device", args->device, "auto, cpu or cuda[:N]");
    cmd->add_option("--threads", args->threads, "CPU threads (default: all)")->check(inRange(0, 1024));
    cmd->add_option("--out", args->out, "output .safetensors")->required();
    cmd->callback([args]() { runLrp(*args); });
}

}  // namespace biasscope::cli
