#include "explain/RelevanceEngine.h"
#include "model/VitForward.h"

#include <cmath>

#include <torch/types.h>

#include "common/Error.h"
#include "explain/LrpRules.h"

namespace biasscope::explain {

using model::LayerNormWeights;
using model::LinearWeights;
using model::VitModel;
namespace idx = torch::indexing;

const char* toString(AttentionRule rule) { return rule == AttentionRule::CP ? "cp" : "attnlrp"; }
const char* toString(Readout readout) { return readout == Readout::Relevance ? "relevance" : "gradient"; }
const char* toString(Site site) {
    switch (site) {
        case Site::Intermediate: return "intermediate";
        case Site::Final: return "final";
        case Site::LnBefore: return "ln_before";
        case Site::LnAfter: return "ln_after";
        case Site::Attention: return "attention";
    }
    return "?";
}

AttentionRule parseAttentionRule(const std::string& s) {
    if (s == "cp") return AttentionRule::CP;
    if (s == "attnlrp") return AttentionRule::AttnLRP;
    throw InputError("unknown rule '" + s + "' (expected cp or attnlrp)");
}

Readout parseReadout(const std::string& s) {
    if (s == "relevance") return Readout::Relevance;
    if (s == "gradient") return Readout::Gradient;
    throw InputError("unknown readout '" + s + "' (expected relevance or gradient)");
}

Site parseSite(const std::string& s) {
    if (s == "intermediate" || s == "post_gelu") return Site::Intermediate;
    if (s == "final" || s == "block_output" || s == "post_layernorm") return Site::Final;
    if (s == "ln_before") return Site::LnBefore;
    if (s == "ln_after") return Site::LnAfter;
    if (s == "attention") return Site::Attention;
    throw InputError("unknown site '" + s + "' (expected intermediate, final, ln_before, ln_after or attention)");
}

std::string siteDescription(Site site) {
    switch (site) {
        case Site::Intermediate: return "post-GELU MLP activations (intermediate)";
        case Site::Final: return "block output: residual stream after the MLP (paper: \"post-LayerNorm\")";
        case Site::LnBefore: return "output of layernorm_before (attention input)";
        case Site::LnAfter: return "output of layernorm_after (MLP input)";
        case Site::Attention: return "attention block output (after output projection)";
    }
    return "";
}

const SiteRelevance* RelevanceResult::site(Site s) const {
    for (const auto& r : sites)
        if (r.site == s) return &r;
    return nullptr;
}

namespace {

struct LayerNormOut {
    at::Tensor y, invStd;
};

LayerNormOut layerNorm(const at::Tensor& x, const LayerNormWeights& w, double eps) {
    const at::Tensor xc = x - x.mean(-1, true);
    const at::Tensor invStd = torch::rsqrt((xc * xc).mean(-1, true) + eps);
    return {xc * invStd * w.weight + w.bias, invStd};
}

at::Tensor linear(const at::Tensor& x, const LinearWeights& w) { return torch::matmul(x, w.weight.t()) + w.bias; }

// [B, 3, H, W] -> [B, G*G, 3*P*P] in the (channel, row, col) order of the conv weight
at::Tensor unfoldPatches(const at::Tensor& x, std::int64_t grid, std::int64_t patch) {
    const auto B = x.size(0), C = x.size(1);
    return x.index({idx::Slice(), idx::Slice(), idx::Slice(0, grid * patch), idx::Slice(0, grid * patch)})
        .reshape({B, C, grid, patch, grid, patch})
        .permute({0, 2, 4, 1, 3, 5})
        .reshape({B, grid * grid, C * patch * patch});
}

at::Tensor foldPatches(const at::Tensor& g, std::int64_t grid, std::int64_t patch, std::int64_t channels, std::int64_t height, std::int64_t width) {
    const auto T = g.size(0);
    at::Tensor img = g.reshape({T, grid, grid, channels, patch, patch}).permute({0, 3, 1, 4, 2, 5}).reshape({T, channels, grid * patch, grid * patch});
    if (height > grid * patch || width > grid * patch)
        img = torch::constant_pad_nd(img, {0, width - grid * patch, 0, height - grid * patch});  // pixels the conv never sees
    return img;
}

at::Tensor splitHeads(const at::Tensor& x, std::int64_t heads) {  // [B, N, D] -> [B, H, N, d]
    return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).permute({0, 2, 1, 3});
}
at::Tensor mergeHeads(const at::Tensor& x) {  // [B, H, N, d] -> [B, N, D]
    return x.permute({0, 2, 1, 3}).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

void checkPixels(const VitModel& model, const at::Tensor& pixels, bool single) {
    const auto& c = model.backbone.config;
    if (pixels.dim() != 4 || pixels.size(1) != c.numChannels || pixels.size(2) != c.imageSize || pixels.size(3) != c.imageSize ||
        (single && pixels.size(0) != 1))
        throw InputError("image tensor has shape " + c10::str(pixels.sizes()) + ", the model expects [" + (single ? "1" : "B") + ", " +
                         std::to_string(c.numChannels) + ", " + std::to_string(c.imageSize) + ", " + std::to_string(c.imageSize) + "]");
    if (!torch::isfinite(pixels).all().item<bool>()) throw InputError("image tensor contains NaN or infinite values");
}

struct BlockTrace {
    at::Tensor u, invStd1, q, k, v, attn, att, invStd2, w, ratio, m, out;
    GammaLinear fc1, fc2;
};

struct ForwardTrace {
    at::Tensor patches;  // [1, G*G, 3P^2]
    std::vector<BlockTrace> blocks;
    at::Tensor invStdFinal;  // [1, N, 1]
    at::Tensor clsOut;       // [1, D]
    GammaLinear conv;
    std::vector<GammaLinear> headGamma;
    std::vector<at::Tensor> logits;  // [1, C]
};

ForwardTrace tracedForward(const VitModel& model, const at::Tensor& x, const RelevanceOptions& opt) {
    const auto& bb = model.backbone;
    const auto& c = bb.config;
    const std::int64_t D = c.hiddenSize;
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.headDim()));
    ForwardTrace tr;
    tr.patches = unfoldPatches(x, c.gridSize(), c.patchSize);
    const at::Tensor wPatch = bb.patchProjection.weight.reshape({D, -1});
    if (opt.gamma.enabled) tr.conv = prepareGammaLinear(tr.patches, wPatch, bb.patchProjection.bias, opt.gamma.conv);
    at::Tensor h = torch::cat({bb.clsToken, torch::matmul(tr.patches, wPatch.t()) + bb.patchProjection.bias}, 1) + bb.positionEmbeddings;
    for (const auto& blk : bb.blocks) {
        BlockTrace t;
        auto ln1 = layerNorm(h, blk.layernormBefore, c.layerNormEps);
        t.u = ln1.y;
        t.invStd1 = ln1.invStd;
        t.q = splitHeads(linear(t.u, blk.query), c.numHeads);
        t.k = splitHeads(linear(t.u, blk.key), c.numHeads);
        t.v = splitHeads(linear(t.u, blk.value), c.numHeads);
        t.attn = torch::softmax(torch::matmul(t.q, t.k.transpose(-1, -2)) * scale, -1);
        t.att = linear(mergeHeads(torch::matmul(t.attn, t.v)), blk.attentionOutput);
        const at::Tensor b = h + t.att;
        auto ln2 = layerNorm(b, blk.layernormAfter, c.layerNormEps);
        t.w = ln2.y;
        t.invStd2 = ln2.invStd;
        const at::Tensor z = linear(t.w, blk.intermediate);
        t.m = torch::gelu(z);
        t.ratio = identityRuleRatio(z, t.m, opt.identityEps);
        t.out = b + linear(t.m, blk.output);
        if (opt.gamma.enabled) {
            t.fc1 = prepareGammaLinear(t.w, blk.intermediate.weight, blk.intermediate.bias, opt.gamma.linear);
            t.fc2 = prepareGammaLinear(t.m, blk.output.weight, blk.output.bias, opt.gamma.linear);
        }
        if (opt.rule == AttentionRule::CP) t.q = t.k = at::Tensor();  // not needed by the CP backward
        h = t.out;
        tr.blocks.push_back(std::move(t));
    }
    auto lnF = layerNorm(h, bb.finalLayernorm, c.layerNormEps);
    tr.invStdFinal = lnF.invStd;
    tr.clsOut = lnF.y.index({idx::Slice(), 0});
    for (const auto& head : model.heads) {
        tr.logits.push_back(linear(tr.clsOut, head.linear));
        if (opt.gamma.enabled) tr.headGamma.push_back(prepareGammaLinear(tr.clsOut.unsqueeze(0), head.linear.weight, head.linear.bias, opt.gamma.linear));
    }
    return tr;
}

GammaLinear sliceRows(const GammaLinear& g, std::int64_t n) {
    if (g.y.size(1) == n) return g;
    GammaLinear s = g;
    for (at::Tensor* t : {&s.xPos, &s.xNeg, &s.maskPos, &s.maskNeg, &s.y, &s.inputStab}) *t = t->narrow(1, 0, n);
    return s;
}

struct SiteAccumulator {
    Site site;
    at::Tensor perNeuron, perToken;
};

struct PassResult {
    at::Tensor heat, pixel, cls, pos, bias;
    std::vector<SiteAccumulator> sites;
};

// One backward pass for a chunk of targets (all travel together as the leading batch dimension).
PassResult batchedBackward(const VitModel& model, const at::Tensor& x, const ForwardTrace& tr, const std::vector<Target>& targets,
                           const RelevanceOptions& opt, const JobControl& job, double progress0, double progress1) {
    const auto& bb = model.backbone;
    const auto& c = bb.config;
    const std::int64_t T = static_cast<std::int64_t>(targets.size()), D = c.hiddenSize, N = c.numTokens(), L = c.numLayers;
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.headDim()));
    const auto fopt = x.options();
    const bool acc = opt.accounting;
    PassResult res;
    res.bias = torch::zeros({T}, fopt);
    auto addBias = [&](const at::Tensor& grad, const at::Tensor& bias) {
        if (acc) res.bias += (grad * bias).sum(std::vector<std::int64_t>{1, 2});
    };
    for (Site s : opt.sites) {
        const std::int64_t F = s == Site::Intermediate ? c.intermediateSize : D;
        res.sites.push_back({s, torch::zeros({T, L, F}, fopt), torch::zeros({T, L, N}, fopt)});
    }
    auto record = [&](Site s, std::int64_t layer, const at::Tensor& act, const at::Tensor& grad) {
        for (auto& a : res.sites) {
            if (a.site != s) continue;
            const at::Tensor v = opt.readout == Readout::Relevance ? act * grad : grad;
            a.perNeuron.select(1, layer).copy_(v.sum(1));
            a.perToken.select(1, layer).narrow(1, 0, v.size(1)).copy_(v.sum(2));  // rows without gradient stay 0
        }
    };

    // Seed: gradient 1 on each explained logit -> gradient at the classifier input (CLS of the final LN).
    at::Tensor gCls = torch::zeros({T, D}, fopt);
    for (std::int64_t t = 0; t < T; ++t) {
        const auto& tg = targets[static_cast<std::size_t>(t)];
        const auto& head = model.heads[static_cast<std::size_t>(tg.head)];
        if (opt.gamma.enabled) {
            at::Tensor seed = torch::zeros({1, 1, head.linear.weight.size(0)}, fopt);
            seed.index_put_({0, 0, tg.classIndex}, 1.0);
            gCls[t] = gammaLinearBackward(tr.headGamma[static_cast<std::size_t>(tg.head)], seed).reshape({D});
        } else {
            gCls[t] = head.linear.weight[tg.classIndex];
        }
        if (acc) res.bias[t] += head.linear.bias[tg.classIndex];
    }
    if (acc) res.bias += (gCls * bb.finalLayernorm.bias).sum(-1);
    at::Tensor g = torch::zeros({T, N, D}, fopt);
    g.select(1, 0).copy_(layerNormBackwardDetachedStd(gCls, bb.finalLayernorm.weight, tr.invStdFinal.select(1, 0)));

    for (std::int64_t l = L - 1; l >= 0; --l) {
        job.checkCancelled();
        const auto& blk = bb.blocks[static_cast<std::size_t>(l)];
        const auto& t = tr.blocks[static_cast<std::size_t>(l)];
        // Above the last block only the CLS row carries gradient, so the last block's MLP and output
        // projection run on that row alone (exact: the other rows are zero).
        const std::int64_t n = l == L - 1 ? 1 : N;
        auto rows = [&](const at::Tensor& x) { return n == N ? x : x.narrow(1, 0, n); };
        auto padRows = [&](const at::Tensor& x) { return n == N ? x : torch::constant_pad_nd(x, {0, 0, 0, N - n}); };
        record(Site::Final, l, t.out, g);
        const at::Tensor gn = rows(g);
        // MLP branch: out = b + fc2(gelu(fc1(LN2(b))))
        addBias(gn, blk.output.bias);
        const at::Tensor gm = opt.gamma.enabled ? gammaLinearBackward(sliceRows(t.fc2, n), gn) : torch::matmul(gn, blk.output.weight);
        record(Site::Intermediate, l, rows(t.m), gm);
        const at::Tensor gz = gm * rows(t.ratio);  // identity rule through GELU
        addBias(gz, blk.intermediate.bias);
        const at::Tensor gw = opt.gamma.enabled ? gammaLinearBackward(sliceRows(t.fc1, n), gz) : torch::matmul(gz, blk.intermediate.weight);
        record(Site::LnAfter, l, rows(t.w), gw);
        addBias(gw, blk.layernormAfter.bias);
        const at::Tensor gbRows = gn + layerNormBackwardDetachedStd(gw, blk.layernormAfter.weight, rows(t.invStd2));
        // Attention branch: b = a + out_proj(A V)
        record(Site::Attention, l, rows(t.att), gbRows);
        addBias(gbRows, blk.attentionOutput.bias);
        const at::Tensor go = splitHeads(torch::matmul(gbRows, blk.attentionOutput.weight), c.numHeads);  // [T, H, n, d]
        const at::Tensor attn = n == N ? t.attn : t.attn.narrow(2, 0, n);                              // [1, H, n, N]
        at::Tensor gu;
        if (opt.rule == AttentionRule::CP) {
            // q and k detached: A is a constant, relevance flows through the values only
            const at::Tensor gv = mergeHeads(torch::matmul(attn.transpose(-1, -2), go));
            addBias(gv, blk.value.bias);
            gu = torch::matmul(gv, blk.value.weight);
        } else {
            // AttnLRP: A.V and Q.K^T each give half to both factors; softmax keeps its plain gradient
            const MatmulGrads av = halvedMatmulBackward(attn, t.v, go);
            const at::Tensor gs = softmaxBackward(attn, av.gradA) * scale;
            const at::Tensor q = n == N ? t.q : t.q.narrow(2, 0, n);
            const MatmulGrads qk = halvedMatmulBackward(q, t.k.transpose(-1, -2), gs);
            const at::Tensor gq = padRows(mergeHeads(qk.gradA)), gk = mergeHeads(qk.gradB.transpose(-1, -2)), gv = mergeHeads(av.gradB);
            addBias(gq, blk.query.bias);
            addBias(gk, blk.key.bias);
            addBias(gv, blk.value.bias);
            gu = torch::matmul(gq, blk.query.weight) + torch::matmul(gk, blk.key.weight) + torch::matmul(gv, blk.value.weight);
        }
        record(Site::LnBefore, l, t.u, gu);
        addBias(gu, blk.layernormBefore.bias);
        g = padRows(gbRows) + layerNormBackwardDetachedStd(gu, blk.layernormBefore.weight, t.invStd1);
        job.report(progress0 + (progress1 - progress0) * static_cast<double>(L - l) / static_cast<double>(L + 1),
                   "backward, layer " + std::to_string(l));
    }
    // Embeddings: h0 = cat(cls, patches W^T + b) + pos
    if (acc) {
        res.pos = (g * bb.positionEmbeddings).sum(std::vector<std::int64_t>{1, 2});
        res.cls = (g.select(1, 0) * bb.clsToken.reshape({1, D})).sum(-1);
    }
    const at::Tensor gp = g.index({idx::Slice(), idx::Slice(1, idx::None)});
    addBias(gp, bb.patchProjection.bias);
    const at::Tensor gPatches = opt.gamma.enabled ? gammaLinearBackward(tr.conv, gp) : torch::matmul(gp, bb.patchProjection.weight.reshape({D, -1}));
    const at::Tensor gx = foldPatches(gPatches, c.gridSize(), c.patchSize, c.numChannels, x.size(2), x.size(3));
    res.heat = (x * gx).sum(1);
    if (acc) res.pixel = res.heat.sum(std::vector<std::int64_t>{1, 2});
    return res;
}

void validateTargets(const VitModel& model, const std::vector<Target>& targets) {
    if (targets.empty()) throw InputError("no target to explain");
    for (const auto& t : targets) {
        if (t.head < 0 || t.head >= static_cast<int>(model.heads.size())) throw InputError("target head index " + std::to_string(t.head) + " does not exist");
        const auto& h = model.heads[static_cast<std::size_t>(t.head)];
        if (t.classIndex < 0 || t.classIndex >= h.linear.weight.size(0))
            throw InputError("target class " + std::to_string(t.classIndex) + " is outside head '" + h.name + "' (" +
                             std::to_string(h.linear.weight.size(0)) + " classes)");
    }
}

}  // namespace

std::vector<at::Tensor> vitLogits(const VitModel& model, const at::Tensor& pixels) {
    checkPixels(model, pixels, false);
    torch::NoGradGuard noGrad;
    const at::Tensor cls = model::vitFeatures(model.backbone, pixels);
    std::vector<at::Tensor> out;
    for (const auto& head : model.heads) out.push_back(model::headLogits(head, cls));
    return out;
}

RelevanceResult explainBatched(const VitModel& model, const at::Tensor& pixels, const std::vector<Target>& targets, const RelevanceOptions& opt,
                               const JobControl& job) {
    checkPixels(model, pixels, true);
    validateTargets(model, targets);
    torch::NoGradGuard noGrad;
    job.report(0.0, "forward");
    const ForwardTrace tr = tracedForward(model, pixels, opt);
    job.checkCancelled();
    job.report(0.1, "backward");

    RelevanceResult result;
    result.targets = targets;
    for (const auto& l : tr.logits) result.logits.push_back(l.reshape({-1}));
    const std::size_t chunk = static_cast<std::size_t>(std::max(1, opt.maxTargetsPerPass));
    std::vector<PassResult> passes;
    const std::size_t nChunks = (targets.size() + chunk - 1) / chunk;
    for (std::size_t start = 0, i = 0; start < targets.size(); start += chunk, ++i) {
        std::vector<Target> part(targets.begin() + static_cast<long>(start), targets.begin() + static_cast<long>(std::min(targets.size(), start + chunk)));
        const double p0 = 0.1 + 0.9 * static_cast<double>(i) / static_cast<double>(nChunks);
        const double p1 = 0.1 + 0.9 * static_cast<double>(i + 1) / static_cast<double>(nChunks);
        passes.push_back(batchedBackward(model, pixels, tr, part, opt, job, p0, p1));
    }
    auto cat = [&](auto getter) {
        std::vector<at::Tensor> parts;
        for (auto& p : passes) parts.push_back(getter(p));
        return torch::cat(parts, 0);
    };
    result.inputHeatmap = cat([](PassResult& p) { return p.heat; });
    for (std::size_t s = 0; s < opt.sites.size(); ++s)
        result.sites.push_back({opt.sites[s], cat([s](PassResult& p) { return p.sites[s].perNeuron; }),
                                cat([s](PassResult& p) { return p.sites[s].perToken; })});
    at::Tensor logit = torch::empty({static_cast<std::int64_t>(targets.size())}, pixels.options());
    for (std::size_t t = 0; t < targets.size(); ++t)
        logit[static_cast<std::int64_t>(t)] = result.logits[static_cast<std::size_t>(targets[t].head)][targets[t].classIndex];
    result.targetLogit = logit;
    if (opt.accounting) {
        result.pixelRelevance = cat([](PassResult& p) { return p.pixel; });
        result.clsRelevance = cat([](PassResult& p) { return p.cls; });
        result.positionRelevance = cat([](PassResult& p) { return p.pos; });
        result.biasRelevance = cat([](PassResult& p) { return p.bias; });
    }
    // a result is right or refused: NaN / Inf anywhere (weights, an overflowing logit) is never returned
    for (std::size_t h = 0; h < result.logits.size(); ++h)
        if (!torch::isfinite(result.logits[h]).all().item<bool>())
            throw Error("the logits of head '" + model.heads[h].name + "' are not finite (NaN/Inf): the weights hold non-finite or extreme values");
    if (!torch::isfinite(result.inputHeatmap).all().item<bool>()) throw Error("the input relevance is not finite (NaN/Inf): the weights hold non-finite or extreme values");
    for (const auto& site : result.sites)
        if (!torch::isfinite(site.perNeuron).all().item<bool>() || !torch::isfinite(site.perToken).all().item<bool>())
            throw Error(std::string("the relevance at site '") + toString(site.site) + "' is not finite (NaN/Inf): the weights hold non-finite or extreme values");
    job.report(1.0, "done");
    return result;
}

}  // namespace biasscope::explain
