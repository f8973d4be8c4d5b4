#include "study/DemoChecks.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/types.h>

#include "attention/Scores.h"
#include "common/Error.h"
#include "explain/RelevanceEngine.h"
#include "io/AtomicFile.h"
#include "io/HashCache.h"
#include "io/ImageIO.h"
#include "model/VitWeights.h"
#include "preprocess/ImagePreprocessor.h"

namespace biasscope::study {

namespace fs = std::filesystem;

DemoMeasures measureDemo(const std::string& demoDir, const JobControl& job) {
    const fs::path root(demoDir), data = root / "data";
    model::VitModel m = model::loadVitModel((root / "models/class/best").string(), std::nullopt, "class");
    model::addHeadFrom(m, (root / "models/place/best").string(), std::nullopt, "place");
    std::ifstream meta(data / "metadata.csv");
    if (!meta) throw InputError((data / "metadata.csv").string() + ": missing (build the demo first)");
    std::string line;
    std::getline(meta, line);
    explain::RelevanceOptions ro;
    ro.rule = explain::AttentionRule::CP;
    ro.readout = explain::Readout::Relevance;
    ro.sites = {explain::Site::Final};
    ro.accounting = false;
    DemoMeasures d;
    std::vector<std::string> rows;
    while (std::getline(meta, line))
        if (!line.empty()) rows.push_back(line);
    std::size_t done = 0;
    for (const auto& row : rows) {
        std::stringstream ss(row);
        std::string file, y, place, split;
        std::getline(ss, file, ',');
        std::getline(ss, y, ',');
        std::getline(ss, place, ',');
        std::getline(ss, split, ',');
        ++done;
        if (split != "2") continue;
        job.checkCancelled();
        job.report(static_cast<double>(done) / static_cast<double>(rows.size()), "measuring " + file);
        const int cls = std::stoi(y);
        const fs::path image = data / file;
        const std::string stem = image.stem().string(), clsName = image.parent_path().filename().string();
        const fs::path masked = data / "masked" / clsName / (stem + ".png");
        const cv::Mat mask = cv::imread((data / clsName / "mask" / (stem + ".png")).string(), cv::IMREAD_GRAYSCALE);
        if (mask.empty()) throw InputError((data / clsName / "mask" / (stem + ".png")).string() + ": missing or unreadable mask");
        const at::Tensor px = preprocess::vitPixels(io::loadRgbImage(image.string()), m.backbone.config);
        const at::Tensor pxMasked = preprocess::vitPixels(io::loadRgbImage(masked.string()), m.backbone.config);
        const auto logits = explain::vitLogits(m, torch::cat({px, pxMasked}));
        const at::Tensor prob = torch::softmax(logits[0].to(torch::kFloat64), 1);
        const double conf = prob[0][cls].item<double>(), confMasked = prob[1][cls].item<double>();
        d.confidence += conf;
        d.confidenceMasked += confMasked;
        const bool agrees = place == y;  // the background the class was paired with in training
        (agrees ? d.confidenceAligned : d.confidenceConflicting) += conf;
        (agrees ? d.confidenceAlignedMasked : d.confidenceConflictingMasked) += confMasked;
        ++(agrees ? d.alignedImages : d.conflictingImages);
        const int pred = static_cast<int>(logits[0][0].argmax().item<std::int64_t>());
        d.accuracy += pred == cls;
        d.accuracyMasked += logits[0][1].argmax().item<std::int64_t>() == cls;
        // targets: true class, predicted class, and the background the class was paired with (circle-land, triangle-water)
        const auto r = explain::explainBatched(m, px, {{0, cls}, {0, pred}, {1, cls}}, ro);
        const at::Tensor heat = r.inputHeatmap.to(torch::kFloat32).contiguous();  // [3, H, W]
        const int H = static_cast<int>(heat.size(1)), W = static_cast<int>(heat.size(2));
        if (mask.rows != H || mask.cols != W) throw InputError(image.string() + ": mask size differs from the model input");
        std::vector<float> obj(static_cast<std::size_t>(H * W)), bg(obj.size());
        for (int i = 0; i < H * W; ++i) {
            obj[static_cast<std::size_t>(i)] = mask.data[i] > 127 ? 1.f : 0.f;
            bg[static_cast<std::size_t>(i)] = 1.f - obj[static_cast<std::size_t>(i)];
        }
        const at::Tensor absTrue = heat[0].abs();
        const double total = absTrue.sum().item<double>();
        const at::Tensor objT = torch::from_blob(obj.data(), {H, W}, torch::kFloat32);
        d.outsideRelevance += total > 0 ? (absTrue * (1 - objT)).sum().item<double>() / total : 0.0;
        const at::Tensor pos = heat[1].clamp_min(0).contiguous();
        const float* p = pos.data_ptr<float>();
        const double iouB = attention::attentionIoU(p, bg.data(), bg.size()), iouO = attention::attentionIoU(p, obj.data(), obj.size());
        d.iouBackgroundPixel += std::isfinite(iouB) ? iouB : 0.0;  // an all-zero map counts as 0 (published mask-score convention)
        d.iouObjectPixel += std::isfinite(iouO) ? iouO : 0.0;
        {  // patch-grid map: relevance summed per patch, positive part, nearest upsampling
            const int P = static_cast<int>(m.backbone.config.patchSize);
            const at::Tensor pooled = torch::avg_pool2d(heat[1].unsqueeze(0).unsqueeze(0), {P, P}).clamp_min(0);
            const at::Tensor up = torch::upsample_nearest2d(pooled, {H, W}).reshape({H, W}).contiguous();
            const double v = attention::attentionIoU(up.data_ptr<float>(), bg.data(), bg.size());
            d.iouBackground += std::isfinite(v) ? v : 0.0;
            const double w = attention::attentionIoU(up.data_ptr<float>(), obj.data(), obj.size());
            d.iouObject += std::isfinite(w) ? w : 0.0;
        }
        d.backgroundFraction += torch::from_blob(bg.data(), {H * W}, torch::kFloat32).mean().item<double>();
        const at::Tensor neurons = r.sites.front().perNeuron.to(torch::kFloat64);  // [3, layers, features]
        d.conceptSimilarity += torch::cosine_similarity(neurons[0], neurons[2], 1, 1e-12).mean().item<double>();
        ++d.images;
    }
    if (d.images == 0) throw InputError((data / "metadata.csv").string() + ": no test images (split 2)");
    const double n = d.images;
    for (double* v : {&d.accuracy, &d.accuracyMasked, &d.confidence, &d.confidenceMasked, &d.outsideRelevance, &d.conceptSimilarity, &d.iouBackground, &d.iouObject, &d.iouBackgroundPixel, &d.iouObjectPixel,
                      &d.backgroundFraction})
        *v /= n;
    for (double* v : {&d.confidenceAligned, &d.confidenceAlignedMasked}) *v /= std::max(1, d.alignedImages);
    for (double* v : {&d.confidenceConflicting, &d.confidenceConflictingMasked}) *v /= std::max(1, d.conflictingImages);
    return d;
}

nlohmann::json demoMeasuresJson(const DemoMeasures& m) {
    return {{"images", m.images},
            {"accuracy", m.accuracy},
            {"accuracy_masked", m.accuracyMasked},
            {"confidence", m.confidence},
            {"confidence_masked", m.confidenceMasked},
            {"aligned_images", m.alignedImages},
            {"conflicting_images", m.conflictingImages},
            {"confidence_aligned", m.confidenceAligned},
            {"confidence_aligned_masked", m.confidenceAlignedMasked},
            {"confidence_conflicting", m.confidenceConflicting},
            {"confidence_conflicting_masked", m.confidenceConflictingMasked},
            {"context_effect", m.contextEffect()},
            {"outside_relevance", m.outsideRelevance},
            {"concept_similarity", m.conceptSimilarity},
            {"iou_background", m.iouBackground},
            {"iou_object", m.iouObject},
            {"iou_background_pixel", m.iouBackgroundPixel},
            {"iou_object_pixel", m.iouObjectPixel},
            {"background_fraction", m.backgroundFraction}};
}

DemoMeasures demoMeasuresFromJson(const nlohmann::json& j) {
    DemoMeasures m;
    m.images = j.at("images").get<int>();
    m.accuracy = j.at("accuracy").get<double>();
    m.accuracyMasked = j.at("accuracy_masked").get<double>();
    m.confidence = j.at("confidence").get<double>();
    m.confidenceMasked = j.at("confidence_masked").get<double>();
    m.alignedImages = j.at("aligned_images").get<int>();
    m.conflictingImages = j.at("conflicting_images").get<int>();
    m.confidenceAligned = j.at("confidence_aligned").get<double>();
    m.confidenceAlignedMasked = j.at("confidence_aligned_masked").get<double>();
    m.confidenceConflicting = j.at("confidence_conflicting").get<double>();
    m.confidenceConflictingMasked = j.at("confidence_conflicting_masked").get<double>();
    m.outsideRelevance = j.at("outside_relevance").get<double>();
    m.conceptSimilarity = j.at("concept_similarity").get<double>();
    m.iouBackground = j.at("iou_background").get<double>();
    m.iouObject = j.at("iou_object").get<double>();
    m.iouBackgroundPixel = j.at("iou_background_pixel").get<double>();
    m.iouObjectPixel = j.at("iou_object_pixel").get<double>();
    m.backgroundFraction = j.at("background_fraction").get<double>();
    return m;
}

DemoMeasures measureDemoCached(const std::string& demoDir, const JobControl& job) {
    // version 1: the measures of DemoMeasures as defined above
    const fs::path root(demoDir), file = root / "measures.json";
    std::ifstream keyIn(root / "data/demo-data.json");
    if (!keyIn) throw InputError((root / "data/demo-data.json").string() + ": missing (build the demo first)");
    nlohmann::json key{{"measures_version", 1},
                       {"data", nlohmann::json::parse(keyIn, nullptr, false)},
                       {"class_weights", io::cachedSha256FileHex((root / "models/class/best/model.safetensors").string())},
                       {"place_weights", io::cachedSha256FileHex((root / "models/place/best/model.safetensors").string())}};
    if (std::ifstream in(file); in) {
        const auto j = nlohmann::json::parse(in, nullptr, false);
        if (!j.is_discarded() && j.is_object() && j.value("key", nlohmann::json()) == key && j.contains("measures")) {
            try {
                return demoMeasuresFromJson(j.at("measures"));
            } catch (const nlohmann::json::exception&) {
                // damaged: measured anew below
            }
        }
    }
    const DemoMeasures d = measureDemo(demoDir, job);
    io::writeFileAtomically(file.string(), nlohmann::json{{"key", key}, {"measures", demoMeasuresJson(d)}}.dump(2) + "\n");
    return d;
}

}  // namespace biasscope::study
