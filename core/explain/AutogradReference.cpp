// The naive path: one forward and one backward per target through LibTorch autograd, with the LRP
// rules written as detach algebra (reference-attnlrp.md section 11). Independent of the explicit
// batched backward in RelevanceEngine.cpp, which it cross-checks in the tests.
#include <cmath>

#include <torch/autograd.h>
#include <torch/types.h>

#include "common/Error.h"
#include "explain/LrpRules.h"
#include "explain/RelevanceEngine.h"

namespace biasscope::explain {

namespace idx = torch::indexing;

namespace {

// forward x, gradient x/f
at::Tensor divideGradient(const at::Tensor& x, double f) { return x / f + (x - x / f).detach(); }

at::Tensor param(const at::Tensor& t, bool track) { return track ? t.detach().clone().requires_grad_(true) : t; }

struct TrackedLinear {
    at::Tensor weight, bias;
};

}  // namespace

RelevanceResult explainWithAutograd(const model::VitModel& model, const at::Tensor& pixels, const std::vector<Target>& targets,
                                    const RelevanceOptions& opt, const JobControl& job) {
    if (opt.gamma.enabled) throw InputError("the autograd reference path has no Gamma rule; use the batched engine");
    if (targets.empty()) throw InputError("no target to explain");
    const auto& bb = model.backbone;
    const auto& c = bb.config;
    const std::int64_t T = static_cast<std::int64_t>(targets.size()), D = c.hiddenSize, N = c.numTokens(), L = c.numLayers;
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.headDim()));
    const bool acc = opt.accounting;
    const auto fopt = pixels.options();

    RelevanceResult result;
    result.targets = targets;
    result.inputHeatmap = torch::zeros({T, pixels.size(2), pixels.size(3)}, fopt);
    for (Site s : opt.sites)
        result.sites.push_back({s, torch::zeros({T, L, s == Site::Intermediate ? c.intermediateSize : D}, fopt), torch::zeros({T, L, N}, fopt)});
    result.targetLogit = torch::zeros({T}, fopt);
    if (acc) {
        result.pixelRelevance = torch::zeros({T}, fopt);
        result.clsRelevance = torch::zeros({T}, fopt);
        result.positionRelevance = torch::zeros({T}, fopt);
        result.biasRelevance = torch::zeros({T}, fopt);
    }

    for (std::int64_t ti = 0; ti < T; ++ti) {
        job.checkCancelled();
        const Target& tg = targets[static_cast<std::size_t>(ti)];
        torch::AutoGradMode gradMode(true);
        std::vector<at::Tensor> biases;  // tracked biases / betas: relevance absorbed = sum(b * b.grad)
        auto bias = [&](const at::Tensor& b) {
            at::Tensor p = param(b, acc);
            if (acc) biases.push_back(p);
            return p;
        };
        auto lin = [&](const at::Tensor& x, const model::LinearWeights& w) { return torch::matmul(x, w.weight.t()) + bias(w.bias); };
        auto ln = [&](const at::Tensor& x, const model::LayerNormWeights& w) {
            const at::Tensor xc = x - x.mean(-1, true);
            const at::Tensor invStd = torch::rsqrt((xc * xc).mean(-1, true) + c.layerNormEps).detach();  // std held constant
            return xc * invStd * w.weight + bias(w.bias);
        };
        auto split = [&](const at::Tensor& x) { return x.reshape({1, N, c.numHeads, c.headDim()}).permute({0, 2, 1, 3}); };
        auto merge = [&](const at::Tensor& x) { return x.permute({0, 2, 1, 3}).reshape({1, N, D}); };

        const at::Tensor x = pixels.detach().clone().requires_grad_(true);
        const at::Tensor cls = param(bb.clsToken, acc), pos = param(bb.positionEmbeddings, acc);
        at::Tensor patches = torch::conv2d(x, bb.patchProjection.weight, bias(bb.patchProjection.bias), c.patchSize).flatten(2).transpose(1, 2);
        at::Tensor h = torch::cat({cls, patches}, 1) + pos;
        std::vector<std::array<at::Tensor, 5>> taps;  // per layer: intermediate, final, ln_before, ln_after, attention
        for (const auto& blk : bb.blocks) {
            at::Tensor u = ln(h, blk.layernormBefore);
            at::Tensor att;
            if (opt.rule == AttentionRule::CP) {
                const at::Tensor ud = u.detach();
                const at::Tensor q = split(torch::matmul(ud, blk.query.weight.t()) + blk.query.bias);
                const at::Tensor k = split(torch::matmul(ud, blk.key.weight.t()) + blk.key.bias);
                const at::Tensor a = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) * scale, -1);
                att = lin(merge(torch::matmul(a, split(lin(u, blk.value)))), blk.attentionOutput);
            } else {
                const at::Tensor q = split(lin(u, blk.query)), k = split(lin(u, blk.key)), v = split(lin(u, blk.value));
                const at::Tensor a = torch::softmax(divideGradient(torch::matmul(q, k.transpose(-1, -2)), 2.0) * scale, -1);
                att = lin(merge(divideGradient(torch::matmul(a, v), 2.0)), blk.attentionOutput);
            }
            const at::Tensor b = h + att;
            at::Tensor w = ln(b, blk.layernormAfter);
            const at::Tensor z = lin(w, blk.intermediate);
            const at::Tensor y = torch::gelu(z);
            const at::Tensor r = identityRuleRatio(z.detach(), y.detach(), opt.identityEps);
            at::Tensor m = z * r + (y - z * r).detach();  // forward gelu(z), gradient r
            at::Tensor out = b + lin(m, blk.output);
            for (auto* t : {&m, &out, &u, &w, &att}) t->retain_grad();
            taps.push_back({m, out, u, w, att});
            h = out;
        }
        const at::Tensor hf = ln(h, bb.finalLayernorm).index({idx::Slice(), 0});
        const auto& head = model.heads[static_cast<std::size_t>(tg.head)];
        const at::Tensor logits = lin(hf, head.linear);
        const at::Tensor logit = logits.index({0, tg.classIndex});
        logit.backward();

        result.targetLogit[ti] = logit.detach();
        result.inputHeatmap[ti] = (x * x.grad()).sum(1)[0].detach();
        for (auto& s : result.sites) {
            for (std::int64_t l = 0; l < L; ++l) {
                const auto& tp = taps[static_cast<std::size_t>(l)];
                const at::Tensor& act = tp[static_cast<std::size_t>(s.site)];
                const at::Tensor v = opt.readout == Readout::Relevance ? act.detach() * act.grad() : act.grad();
                s.perNeuron[ti][l] = v.sum(1)[0];
                s.perToken[ti][l] = v.sum(2)[0];
            }
        }
        if (acc) {
            result.pixelRelevance[ti] = result.inputHeatmap[ti].sum();
            result.clsRelevance[ti] = (cls * cls.grad()).sum().detach();
            result.positionRelevance[ti] = (pos * pos.grad()).sum().detach();
            at::Tensor b = torch::zeros({}, fopt);
            for (const auto& p : biases)
                if (p.grad().defined()) b += (p * p.grad()).sum().detach();
            result.biasRelevance[ti] = b;
        }
        job.report(static_cast<double>(ti + 1) / static_cast<double>(T), "target " + std::to_string(ti + 1) + "/" + std::to_string(T));
    }
    torch::NoGradGuard noGrad;
    for (const auto& l : vitLogits(model, pixels)) result.logits.push_back(l.reshape({-1}));
    return result;
}

}  // namespace biasscope::explain
