#include "attention/GradCam.h"

#include <cmath>
#include <cstring>
#include <functional>

#include <opencv2/imgproc.hpp>
#include <torch/autograd.h>
#include <torch/types.h>

#include "common/Error.h"
#include "model/VitForward.h"

namespace biasscope::attention {

namespace {

// scale_cam_image of pytorch-grad-cam: img - min, / (1e-7 + max), optional cv2.resize(INTER_LINEAR)
void minMax(cv::Mat& m) {
    double lo = 0, hi = 0;
    cv::minMaxLoc(m, &lo, nullptr);
    m -= static_cast<float>(lo);
    cv::minMaxLoc(m, nullptr, &hi);
    m /= (1e-7f + static_cast<float>(hi));
}

}  // namespace

at::Tensor camScalar(const at::Tensor& logits, CamTarget target, std::int64_t index, std::vector<std::int64_t>& explained) {
    const std::int64_t B = logits.size(0), C = logits.size(1);
    if (target != CamTarget::PredictedClass && (index < 0 || index >= C))
        throw InputError("GradCAM target index " + std::to_string(index) + " out of range: the model has " + std::to_string(C) + " outputs");
    if (!torch::isfinite(logits).all().item<bool>()) throw InputError("GradCAM: the model produced non-finite logits (NaN or Inf in the input or weights?)");
    explained.clear();
    switch (target) {
        case CamTarget::AbsLogit:
            explained.assign(static_cast<std::size_t>(B), index);
            return logits.select(1, index).abs();
        case CamTarget::Logit:
            explained.assign(static_cast<std::size_t>(B), index);
            return logits.select(1, index);
        case CamTarget::PredictedClass: {
            const at::Tensor arg = logits.detach().argmax(1);
            for (std::int64_t b = 0; b < B; ++b) explained.push_back(arg[b].item<std::int64_t>());
            return logits.gather(1, arg.unsqueeze(1)).squeeze(1);
        }
    }
    return {};
}

std::vector<CamWarning> mapWarnings(const at::Tensor& raw, const std::string& method) {
    std::vector<CamWarning> out;
    for (std::int64_t b = 0; b < raw.size(0); ++b) {
        const at::Tensor m = raw[b];
        const float hi = m.max().item<float>(), lo = m.min().item<float>();
        if (hi <= 0)
            out.push_back({b, "all-zero " + method + " map (no positive evidence for the explained output)"});
        else if (hi - lo <= 1e-6f * hi)
            out.push_back({b, "constant " + method + " map (it carries no location; scores against it are meaningless)"});
    }
    return out;
}

namespace {

CamResult finish(const at::Tensor& act, const at::Tensor& grad, at::Tensor logits, std::vector<std::int64_t> explained, std::int64_t H, std::int64_t W) {
    CamResult r;
    const at::Tensor alpha = grad.mean({2, 3}, true);
    r.raw = torch::relu((alpha * act).sum(1)).detach().to(torch::kCPU, torch::kFloat32).contiguous();
    r.maps = scaleCam(r.raw, H, W);
    r.logits = logits.detach().to(torch::kCPU);
    r.explained = std::move(explained);
    r.warnings = mapWarnings(r.raw, "GradCAM");
    return r;
}

}  // namespace

CamTarget parseCamTarget(const std::string& s) {
    if (s == "abs") return CamTarget::AbsLogit;
    if (s == "logit") return CamTarget::Logit;
    if (s == "predicted") return CamTarget::PredictedClass;
    throw InputError("unknown GradCAM target '" + s + "' (abs | logit | predicted)");
}

const char* toString(CamTarget t) {
    switch (t) {
        case CamTarget::AbsLogit: return "abs";
        case CamTarget::Logit: return "logit";
        case CamTarget::PredictedClass: return "predicted";
    }
    return "?";
}

at::Tensor scaleCam(const at::Tensor& raw, std::int64_t H, std::int64_t W) {
    const at::Tensor in = raw.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const std::int64_t B = in.size(0), h = in.size(1), w = in.size(2);
    at::Tensor out = torch::empty({B, H, W}, torch::kFloat32);
    for (std::int64_t b = 0; b < B; ++b) {
        cv::Mat m(static_cast<int>(h), static_cast<int>(w), CV_32F, in[b].data_ptr<float>());
        cv::Mat cam = cv::max(m, 0.0f);  // compute_cam_per_layer: np.maximum(cam, 0)
        minMax(cam);
        cv::Mat big;
        cv::resize(cam, big, cv::Size(static_cast<int>(W), static_cast<int>(H)), 0, 0, cv::INTER_LINEAR);
        big = cv::max(big, 0.0f);  // aggregate_multi_layers: np.maximum, mean over the one layer
        minMax(big);
        minMax(big);  // get_attention_map: A - min, A / (1e-7 + max)
        big = cv::min(cv::max(big, 0.0f), 1.0f);
        std::memcpy(out[b].data_ptr<float>(), big.ptr<float>(), sizeof(float) * static_cast<std::size_t>(H * W));
    }
    return out;
}

CamResult gradCamFromFeatures(const at::Tensor& features, const std::function<at::Tensor(const at::Tensor&)>& head, CamTarget target, std::int64_t index,
                              std::int64_t H, std::int64_t W) {
    if (features.dim() != 4) throw InputError("GradCAM: the layer output must be [B, C, h, w]");
    at::AutoGradMode enable(true);
    const at::Tensor f = features.detach().requires_grad_(true);
    const at::Tensor logits = head(f);
    std::vector<std::int64_t> explained;
    const at::Tensor y = camScalar(logits, target, index, explained);
    const at::Tensor g = torch::autograd::grad({y.sum()}, {f}, {}, false, false, true)[0];
    const at::Tensor grad = g.defined() ? g : torch::zeros_like(f);
    return finish(f.detach(), grad, logits, std::move(explained), H, W);
}

CamResult gradCam(const model::CnnModel& model, const at::Tensor& pixels, CamTarget target, std::int64_t index) {
    at::Tensor features;
    {
        at::NoGradGuard ng;
        features = model::cnnFeatures(model, pixels, false);
    }
    return gradCamFromFeatures(
        features, [&](const at::Tensor& f) { return model::cnnHead(model, f, false); }, target, index, pixels.size(2), pixels.size(3));
}

TokenGrid inferTokenGrid(std::int64_t tokens, std::int64_t H, std::int64_t W, std::int64_t patch) {
    constexpr std::int64_t kMaxPrefix = 8;
    if (tokens <= 0) throw InputError("token grid: no tokens");
    if (H > 0) {
        if (patch <= 0 || W <= 0 || H % patch || W % patch)
            throw InputError("token grid: image " + std::to_string(H) + "x" + std::to_string(W) + " is not a whole number of " + std::to_string(patch) + "-pixel patches");
        const TokenGrid g{tokens - (H / patch) * (W / patch), H / patch, W / patch};
        if (g.prefix < 0 || g.prefix > kMaxPrefix)
            throw InputError("token grid: " + std::to_string(tokens) + " tokens do not fit a " + std::to_string(g.rows) + "x" + std::to_string(g.cols) +
                             " patch grid plus 0-8 prefix tokens");
        return g;
    }
    for (std::int64_t prefix = 0; prefix <= kMaxPrefix && prefix < tokens; ++prefix) {
        const auto side = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(tokens - prefix))));
        if (side * side == tokens - prefix) return {prefix, side, side};
    }
    throw InputError("token grid: " + std::to_string(tokens) + " tokens are not a square grid plus 0-8 prefix tokens; give the image and patch size");
}

VitCamSite parseVitCamSite(const std::string& s) {
    if (s == "output") return VitCamSite::BlockOutput;
    if (s == "ln1") return VitCamSite::Norm1;
    throw InputError("unknown ViT GradCAM site '" + s + "' (output | ln1)");
}

const char* toString(VitCamSite s) { return s == VitCamSite::Norm1 ? "ln1" : "output"; }

CamResult vitGradCam(const model::VitModel& m, const std::string& headName, const at::Tensor& pixels, int layer, CamTarget target, std::int64_t index,
                     VitCamSite site) {
    const auto& bb = m.backbone;
    const auto L = static_cast<int>(bb.blocks.size());
    if (layer < 0) layer += L;
    if (layer < 0 || layer >= L) throw InputError("ViT GradCAM: layer out of range (the model has " + std::to_string(L) + " blocks)");
    const auto& head = m.head(headName);
    const auto blk = static_cast<std::size_t>(layer);
    at::Tensor residual, tokens;  // Norm1: the block's input (residual) and its ln_1 output (the CAM layer)
    {
        at::NoGradGuard ng;
        if (site == VitCamSite::Norm1) {
            residual = model::vitBlocks(bb, model::vitEmbed(bb, pixels), 0, blk);
            tokens = model::vitBlockNorm1(bb, blk, residual);
        } else {
            tokens = model::vitBlocks(bb, model::vitEmbed(bb, pixels), 0, blk + 1);
        }
    }
    const TokenGrid grid = inferTokenGrid(tokens.size(1), pixels.size(2), pixels.size(3), bb.config.patchSize);
    // the patch tokens on their grid are GradCAM's layer; the prefix tokens (CLS, ...) rejoin them above it
    const std::int64_t B = tokens.size(0), D = tokens.size(2);
    const at::Tensor prefix = tokens.narrow(1, 0, grid.prefix);
    const at::Tensor onGrid = tokens.narrow(1, grid.prefix, grid.rows * grid.cols).reshape({B, grid.rows, grid.cols, D}).permute({0, 3, 1, 2});
    const auto above = [&](const at::Tensor& f) {  // [B, D, rows, cols] -> logits
        const at::Tensor t = torch::cat({prefix, f.permute({0, 2, 3, 1}).reshape({B, grid.rows * grid.cols, D})}, 1);
        const at::Tensor out = site == VitCamSite::Norm1 ? model::vitBlockFromNormed(bb, blk, residual, t) : t;
        return model::headLogits(head, model::vitPool(bb, model::vitBlocks(bb, out, blk + 1, bb.blocks.size())));
    };
    return gradCamFromFeatures(onGrid, above, target, index, pixels.size(2), pixels.size(3));
}

}  // namespace biasscope::attention
