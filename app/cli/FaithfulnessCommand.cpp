// `biasscope-cli faithfulness`: pixel flipping (region perturbation) of a ViT's explanations, per map
// kind, over one or more images (explain/Faithfulness.h, docs/statistics.md).
#include <filesystem>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "CliSupport.h"
#include "Commands.h"
#include "StudyFigures.h"
#include "common/Device.h"
#include "common/Error.h"
#include "explain/Faithfulness.h"
#include "io/ImageIO.h"
#include "model/VitWeights.h"
#include "preprocess/ImagePreprocessor.h"

namespace biasscope::cli {

namespace {

struct FaithfulnessArgs {
    std::string model, config, head, imageDir, target, out, device = "auto";
    std::vector<std::string> images, maps{"cp-lrp", "attnlrp", "cp-lrp+gamma", "gradcam", "random"};
    int steps = 16, gradCamLayer = -2, threads = 0, dpi = 300;
    std::uint64_t seed = 1;
    std::vector<std::string> formats{"png", "pdf", "svg"};
};

void run(const FaithfulnessArgs& a) {
    configureCpuThreads(a.threads);
    const c10::Device device = resolveDevice(a.device);
    std::vector<explain::FaithfulnessMap> maps;
    for (const auto& m : a.maps) {
        try {
            maps.push_back(explain::parseFaithfulnessMap(m));
        } catch (const Error& e) {
            throw InputError(std::string("--maps: ") + e.what());
        }
    }
    std::vector<std::string> images = a.images;
    if (!a.imageDir.empty()) {
        if (!std::filesystem::is_directory(a.imageDir)) throw InputError("--images " + a.imageDir + ": not a folder");
        for (const auto& f : io::listImageFiles(a.imageDir)) images.push_back(f);
    }
    if (images.empty()) throw InputError("--image / --images: no image given (or the folder holds none)");
    model::VitModel model = model::loadVitModel(a.model, a.config.empty() ? std::nullopt : std::optional<std::string>(a.config), a.head);
    const bool predicted = a.target == "predicted";
    const int classIndex = predicted ? 0 : model.heads.front().labelIndex(a.target);
    if (classIndex < 0)
        throw InputError("--target " + a.target + ": not a class of head '" + model.heads.front().name + "' (" + std::to_string(model.heads.front().labels.size()) +
                         " classes)");
    const auto config = model.backbone.config;
    model = model.to(device);
    explain::FlipOptions o;
    o.steps = a.steps;
    o.seed = a.seed;
    o.gradCamLayer = a.gradCamLayer;
    std::vector<std::vector<explain::FlipResult>> results;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < images.size(); ++i) {
        const at::Tensor pixels = preprocess::vitPixels(io::loadRgbImage(images[i]), config).to(device);
        try {
            explain::FlipOptions oi = o;
            oi.seed = o.seed + i;  // one random map per image, reproducible
            const int c = predicted ? explain::predictedClass(model, 0, pixels) : classIndex;
            results.push_back(explain::pixelFlipping(model, 0, c, pixels, maps, oi));
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& e) {
            throw Error(a.model + " on " + images[i] + ": " + e.what());
        }
        names.push_back(std::filesystem::path(images[i]).filename().string());
        std::cerr << "[" << (i + 1) * 100 / images.size() << "%] pixel flipping: " << i + 1 << "/" << images.size() << " images\n";
    }
    nlohmann::json settings{{"model", a.model},
                            {"head", model.heads.front().name},
                            {"target", a.target},
                            {"class_index", predicted ? nlohmann::json("each image's predicted class") : nlohmann::json(classIndex)},
                            {"maps", a.maps},
                            {"steps", a.steps},
                            {"seed", a.seed},
                            {"gradcam_layer", a.gradCamLayer},
                            {"removal", "patches of the model's patch size set to 0 in normalised pixels (the processor's mean colour)"},
                            {"device", describeDevice(device)},
                            {"images", names}};
    for (const auto& p : explain::writeFaithfulness(a.out, names, results, settings.dump())) std::cout << "wrote " << p << "\n";
    ConsistencyFigureRequest req;
    req.outDir = a.out;
    req.formats = a.formats;
    req.dpi = a.dpi;
    req.provenance["model"] = a.model;
    req.provenance["target"] = a.target;
    renderFaithfulnessFigure(explain::summarizeFaithfulness(results), a.target + " · " + std::to_string(names.size()) + " image(s)", req);
}

}  // namespace

void addFaithfulnessCommand(CLI::App& app) {
    auto a = std::make_shared<FaithfulnessArgs>();
    CLI::App* cmd = app.add_subcommand("faithfulness", "Pixel flipping: remove patches most / least relevant first and record the target logit, per map kind");
    cmd->add_option("--model", a->model, "HF model directory, .safetensors or torch.save .pth")->required();
    cmd->add_option("--config", a->config, "config.json (default: beside the weights, else inferred)");
    cmd->add_option("--head", a->head, "name given to the classifier head");
    cmd->add_option("--image", a->images, "image file (repeatable)");
    cmd->add_option("--images", a->imageDir, "a folder of images");
    cmd->add_option("--target", a->target, "class index or label whose logit is recorded, or 'predicted' (each image's predicted class)")->required();
    cmd->add_option("--maps", a->maps, "cp-lrp, attnlrp, cp-lrp+gamma, gradcam, random (comma list; default all)")->delimiter(',');
    cmd->add_option("--steps", a->steps, "points of each curve after the first (the share removed grows by 1/steps)")->check(inRange(1, 1000));
    cmd->add_option("--seed", a->seed, "seed of the random map (image i uses seed + i)");
    cmd->add_option("--gradcam-layer", a->gradCamLayer, "ViT block whose output GradCAM reads (-1 = last)")->check(inRange(-64, 63));
    cmd->add_option("--device", a->device, "auto, cpu or cuda[:N]");
    cmd->add_option("--threads", a->threads, "CPU threads (default: all)")->check(inRange(0, 1024));
    cmd->add_option("--format", a->formats, "figure formats: png, tif, pdf, svg (repeatable)")->check(CLI::IsMember({"png", "pdf", "svg", "tif", "tiff"}));
    cmd->add_option("--dpi", a->dpi, "raster resolution of the figure")->check(inRange(36, 2400));
    cmd->add_option("--out", a->out, "output folder")->required();
    cmd->callback([a]() { run(*a); });
}

}  // namespace biasscope::cli
