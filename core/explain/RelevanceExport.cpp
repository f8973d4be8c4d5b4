#include "explain/RelevanceExport.h"

#include <torch/types.h>

namespace biasscope::explain {

std::vector<std::pair<std::string, at::Tensor>> relevanceTensors(const RelevanceResult& result, int head) {
    std::vector<std::pair<std::string, at::Tensor>> out;
    const at::Tensor logits = result.logits.at(static_cast<std::size_t>(head)).to(torch::kCPU).to(torch::kFloat32);
    out.emplace_back("logits", logits);
    out.emplace_back("probabilities", torch::softmax(logits.to(torch::kFloat64), 0).to(torch::kFloat32));
    for (std::size_t t = 0; t < result.targets.size(); ++t) appendTargetTensors(result, t, std::to_string(result.targets[t].classIndex) + "/", out);
    return out;
}

void appendTargetTensors(const RelevanceResult& result, std::size_t t, const std::string& p, std::vector<std::pair<std::string, at::Tensor>>& out) {
    const auto ti = static_cast<std::int64_t>(t);
    out.emplace_back(p + "input", result.inputHeatmap[ti].to(torch::kCPU).to(torch::kFloat32));
    if (result.pixelRelevance.defined())  // where the logit went: [logit, pixels, CLS, position, biases] (docs/relevance.md)
        out.emplace_back(p + "accounting", torch::stack({result.targetLogit[ti], result.pixelRelevance[ti], result.clsRelevance[ti], result.positionRelevance[ti],
                                                         result.biasRelevance[ti]})
                                               .to(torch::kCPU)
                                               .to(torch::kFloat64));
    for (const auto& s : result.sites) {
        out.emplace_back(p + toString(s.site), s.perNeuron[ti].to(torch::kCPU).to(torch::kFloat32));
        out.emplace_back(p + toString(s.site) + "_tokens", s.perToken[ti].to(torch::kCPU).to(torch::kFloat32));
    }
}

std::vector<std::string> deviationsFromPublished(const RelevanceOptions& o) {
    std::vector<std::string> d;
    if (o.readout == Readout::Relevance)
        d.push_back("readout 'relevance' (activation x gradient); the published run stored the modified gradient (readout 'gradient')");
    if (o.rule == AttentionRule::AttnLRP) d.push_back("AttnLRP through the softmax; the published run used CP-LRP (q, k detached)");
    if (o.gamma.enabled) d.push_back("Gamma rule on patch conv / MLP / classifier; the published run used none");
    d.push_back("GELU identity rule uses a sign-aware epsilon (published: unsigned 1e-10)");
    d.push_back("site 'final' is the block output (residual stream after the MLP), published under the name 'post-LayerNorm'");
    return d;
}

std::map<std::string, std::string> relevanceMetadata(const RelevanceOptions& o, const ExportProvenance& p, const model::VitModel& model, int head) {
    std::map<std::string, std::string> m;
    m["format"] = "biasscope.relevance.v1";
    m["rule"] = toString(o.rule);
    m["readout"] = toString(o.readout);
    std::string sites;
    for (Site s : o.sites) sites += (sites.empty() ? "" : ",") + std::string(toString(s));
    m["sites"] = sites;
    m["gamma"] = o.gamma.enabled ? "conv=" + std::to_string(o.gamma.conv) + ",linear=" + std::to_string(o.gamma.linear) : "off";
    m["head"] = model.heads.at(static_cast<std::size_t>(head)).name;
    m["model_file"] = p.modelFile;
    m["model_sha256"] = p.modelSha256;
    m["image_file"] = p.imageFile;
    if (!p.imageSha256.empty()) m["image_sha256"] = p.imageSha256;
    if (!p.device.empty()) m["device"] = p.device;
    m["config_inferred"] = model.configInferred ? "true" : "false";
    std::string dev;
    for (const auto& s : deviationsFromPublished(o)) dev += (dev.empty() ? "" : " | ") + s;
    m["deviations"] = dev;
    return m;
}

}  // namespace biasscope::explain
