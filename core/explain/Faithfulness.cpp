#include "explain/Faithfulness.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "attention/GradCam.h"
#include "common/Error.h"
#include "explain/RelevanceEngine.h"
#include "io/AtomicFile.h"
#include "io/Csv.h"

namespace biasscope::explain {

const char* toString(FaithfulnessMap m) {
    switch (m) {
        case FaithfulnessMap::CpLrp: return "cp-lrp";
        case FaithfulnessMap::AttnLrp: return "attnlrp";
        case FaithfulnessMap::CpLrpGamma: return "cp-lrp+gamma";
        case FaithfulnessMap::GradCam: return "gradcam";
        case FaithfulnessMap::Random: return "random";
    }
    return "?";
}

const std::vector<FaithfulnessMap>& allFaithfulnessMaps() {
    static const std::vector<FaithfulnessMap> all{FaithfulnessMap::CpLrp, FaithfulnessMap::AttnLrp, FaithfulnessMap::CpLrpGamma, FaithfulnessMap::GradCam,
                                                  FaithfulnessMap::Random};
    return all;
}

FaithfulnessMap parseFaithfulnessMap(const std::string& s) {
    for (auto m : allFaithfulnessMaps())
        if (s == toString(m)) return m;
    throw InputError("map '" + s + "': expected one of cp-lrp, attnlrp, cp-lrp+gamma, gradcam, random");
}

std::vector<int> rankPatches(const at::Tensor& map, int patch) {
    if (map.dim() != 2 || patch < 1 || map.size(0) % patch != 0 || map.size(1) % patch != 0)
        throw InputError("pixel flipping: the map is " + c10::str(map.sizes()) + ", not a grid of " + std::to_string(patch) + "-pixel patches");
    const at::Tensor cells = map.to(torch::kFloat64).reshape({map.size(0) / patch, patch, map.size(1) / patch, patch}).sum({1, 3}).flatten().contiguous();
    if (!torch::isfinite(cells).all().item<bool>()) throw InputError("pixel flipping: the map holds NaN or Inf");
    const double* s = cells.data_ptr<double>();
    std::vector<int> order(static_cast<std::size_t>(cells.numel()));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [s](int a, int b) { return s[a] > s[b]; });
    return order;
}

FlipCurve flipCurve(const model::VitModel& model, int head, int classIndex, const at::Tensor& pixels, const std::vector<int>& order, int patch,
                    const FlipOptions& o, const JobControl& job) {
    if (o.steps < 1 || o.steps > 10000) throw InputError("pixel flipping: steps must be in 1 .. 10000");
    if (head < 0 || head >= static_cast<int>(model.heads.size())) throw InputError("pixel flipping: no head " + std::to_string(head));
    const std::int64_t H = pixels.size(2), W = pixels.size(3), cols = W / patch;
    const int P = static_cast<int>(order.size());
    if (P != static_cast<int>((H / patch) * cols)) throw InputError("pixel flipping: the patch order does not match the image");
    torch::NoGradGuard ng;
    FlipCurve c;
    std::vector<at::Tensor> batch;
    auto flush = [&] {
        if (batch.empty()) return;
        job.checkCancelled();
        const at::Tensor logits = vitLogits(model, torch::cat(batch, 0))[static_cast<std::size_t>(head)].to(torch::kCPU).to(torch::kFloat64);
        for (std::int64_t i = 0; i < logits.size(0); ++i) c.logit.push_back(logits[i][classIndex].item<double>());
        batch.clear();
    };
    for (int k = 0; k <= o.steps; ++k) {
        const int m = static_cast<int>(std::lround(static_cast<double>(k) * P / o.steps));
        c.fraction.push_back(static_cast<double>(m) / P);
        at::Tensor x = pixels.clone();
        for (int j = 0; j < m; ++j) {
            const std::int64_t r = order[static_cast<std::size_t>(j)] / cols, col = order[static_cast<std::size_t>(j)] % cols;
            x.narrow(2, r * patch, patch).narrow(3, col * patch, patch).zero_();
        }
        batch.push_back(x);
        if (static_cast<int>(batch.size()) >= std::max(1, o.batch)) flush();
    }
    flush();
    for (std::size_t i = 1; i < c.fraction.size(); ++i) c.area += (c.fraction[i] - c.fraction[i - 1]) * (c.logit[i] + c.logit[i - 1]) / 2;
    return c;
}

at::Tensor faithfulnessMap(const model::VitModel& model, int head, int classIndex, const at::Tensor& pixels, FaithfulnessMap map, const FlipOptions& o) {
    const std::int64_t H = pixels.size(2), W = pixels.size(3);
    if (map == FaithfulnessMap::Random) {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
        return torch::rand({H, W}, gen, torch::TensorOptions().dtype(torch::kFloat32));
    }
    if (map == FaithfulnessMap::GradCam) {
        const auto r = attention::vitGradCam(model, model.heads.at(static_cast<std::size_t>(head)).name, pixels, o.gradCamLayer, attention::CamTarget::Logit, classIndex);
        return r.maps[0].to(torch::kCPU).to(torch::kFloat32);
    }
    RelevanceOptions ro;
    ro.rule = map == FaithfulnessMap::AttnLrp ? AttentionRule::AttnLRP : AttentionRule::CP;
    ro.gamma.enabled = map == FaithfulnessMap::CpLrpGamma;
    ro.sites.clear();
    ro.accounting = false;
    const RelevanceResult r = explainBatched(model, pixels, {{head, classIndex}}, ro);
    return r.inputHeatmap[0].to(torch::kCPU).to(torch::kFloat32);
}

int predictedClass(const model::VitModel& model, int head, const at::Tensor& pixels) {
    torch::NoGradGuard ng;
    return static_cast<int>(vitLogits(model, pixels).at(static_cast<std::size_t>(head))[0].argmax().item<std::int64_t>());
}

std::vector<FlipResult> pixelFlipping(const model::VitModel& model, int head, int classIndex, const at::Tensor& pixels, const std::vector<FaithfulnessMap>& maps,
                                      const FlipOptions& o, const JobControl& job) {
    const int patch = static_cast<int>(model.backbone.config.patchSize);
    std::vector<FlipResult> out;
    for (std::size_t i = 0; i < maps.size(); ++i) {
        const auto kind = maps[i];
        job.report(static_cast<double>(i) / static_cast<double>(maps.size()), std::string("pixel flipping: ") + toString(kind));
        job.checkCancelled();
        const at::Tensor m = faithfulnessMap(model, head, classIndex, pixels, kind, o);
        std::vector<int> order = rankPatches(m, patch);
        FlipResult r{kind, flipCurve(model, head, classIndex, pixels, order, patch, o, job), {}, 0};
        std::reverse(order.begin(), order.end());
        r.lerf = flipCurve(model, head, classIndex, pixels, order, patch, o, job);
        r.abpc = r.lerf.area - r.morf.area;
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<FaithfulnessSummary> summarizeFaithfulness(const std::vector<std::vector<FlipResult>>& perImage) {
    if (perImage.empty()) throw InputError("pixel flipping: no image");
    std::vector<FaithfulnessSummary> out;
    for (std::size_t m = 0; m < perImage.front().size(); ++m) {
        FaithfulnessSummary s;
        s.map = perImage.front()[m].map;
        s.fraction = perImage.front()[m].morf.fraction;
        s.morf.assign(s.fraction.size(), 0);
        s.lerf.assign(s.fraction.size(), 0);
        std::vector<double> abpc;
        for (const auto& img : perImage) {
            if (img.size() != perImage.front().size() || img[m].map != s.map || img[m].morf.fraction.size() != s.fraction.size())
                throw InputError("pixel flipping: images differ in maps or steps");
            for (std::size_t k = 0; k < s.fraction.size(); ++k) {
                s.morf[k] += img[m].morf.logit[k];
                s.lerf[k] += img[m].lerf.logit[k];
            }
            s.morfArea += img[m].morf.area;
            s.lerfArea += img[m].lerf.area;
            abpc.push_back(img[m].abpc);
            s.positive += img[m].abpc > 0;
        }
        const double n = static_cast<double>(perImage.size());
        for (auto& v : s.morf) v /= n;
        for (auto& v : s.lerf) v /= n;
        s.morfArea /= n;
        s.lerfArea /= n;
        s.images = static_cast<int>(perImage.size());
        s.abpc = std::accumulate(abpc.begin(), abpc.end(), 0.0) / n;
        double ss = 0;
        for (double a : abpc) ss += (a - s.abpc) * (a - s.abpc);
        s.abpcSem = abpc.size() > 1 ? std::sqrt(ss / (n - 1) / n) : std::nan("");
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<std::string> writeFaithfulness(const std::string& dir, const std::vector<std::string>& images, const std::vector<std::vector<FlipResult>>& perImage,
                                           const std::string& settingsJson) {
    if (images.size() != perImage.size()) throw InputError("pixel flipping: image names and results differ in number");
    const auto summary = summarizeFaithfulness(perImage);
    auto num = [](double v) {
        std::ostringstream os;
        os << std::setprecision(17) << v;
        return os.str();
    };
    std::ostringstream curves, per, sum;
    curves << "image,map,order,step,fraction,logit\n";
    per << "image,map,morf_area,lerf_area,abpc\n";
    for (std::size_t i = 0; i < images.size(); ++i)
        for (const auto& r : perImage[i]) {
            const std::string name = io::csvField(images[i]);
            for (const auto& [order, c] : {std::pair<const char*, const FlipCurve*>{"morf", &r.morf}, {"lerf", &r.lerf}})
                for (std::size_t k = 0; k < c->fraction.size(); ++k)
                    curves << name << "," << toString(r.map) << "," << order << "," << k << "," << num(c->fraction[k]) << "," << num(c->logit[k]) << "\n";
            per << name << "," << toString(r.map) << "," << num(r.morf.area) << "," << num(r.lerf.area) << "," << num(r.abpc) << "\n";
        }
    sum << "map,images,morf_area,lerf_area,abpc,abpc_sem,abpc_positive_images\n";
    nlohmann::json j = nlohmann::json::parse(settingsJson.empty() ? "{}" : settingsJson);
    for (const auto& s : summary) {
        sum << toString(s.map) << "," << s.images << "," << num(s.morfArea) << "," << num(s.lerfArea) << "," << num(s.abpc) << "," << num(s.abpcSem) << ","
            << s.positive << "\n";
        j["summary"][toString(s.map)] = {{"images", s.images}, {"morf_area", s.morfArea}, {"lerf_area", s.lerfArea}, {"abpc", s.abpc},
                                         {"abpc_sem", std::isfinite(s.abpcSem) ? nlohmann::json(s.abpcSem) : nlohmann::json()}, {"abpc_positive_images", s.positive}};
    }
    std::vector<std::string> written;
    std::filesystem::create_directories(dir);
    for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{{"faithfulness_curves.csv", curves.str()},
                                                                                      {"faithfulness_images.csv", per.str()},
                                                                                      {"faithfulness_summary.csv", sum.str()},
                                                                                      {"faithfulness.json", j.dump(2)}}) {
        const std::string p = (std::filesystem::path(dir) / name).string();
        io::writeFileAtomically(p, text);
        written.push_back(p);
    }
    return written;
}

}  // namespace biasscope::explain
