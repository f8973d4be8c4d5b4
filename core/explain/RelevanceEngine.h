#pragma once
// Relevance (CP-LRP / AttnLRP, optional Gamma) of a ViT for many targets per image: one forward pass
// whose activations are kept, then one explicit backward pass in which all targets travel together
// as a batch. The rules make the backward linear in the seed (method.md section 2), so batching the
// seeds gives the same numbers as one forward+backward per target, at a fraction of the cost.
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "common/JobControl.h"
#include "model/VitWeights.h"

namespace biasscope::explain {

enum class AttentionRule { CP, AttnLRP };
enum class Readout { Relevance, Gradient };
// Readout sites of each layer. Final is the block output (residual stream after the MLP); the
// published paper calls it "post-LayerNorm", which it is not (method.md section 2).
enum class Site { Intermediate, Final, LnBefore, LnAfter, Attention };

const char* toString(AttentionRule rule);
const char* toString(Readout readout);
const char* toString(Site site);
AttentionRule parseAttentionRule(const std::string& s);  // "cp" | "attnlrp"
Readout parseReadout(const std::string& s);              // "relevance" | "gradient"
Site parseSite(const std::string& s);                    // also accepts the paper's alias "post_layernorm" for Final
std::string siteDescription(Site site);                  // truthful label for the UI

struct GammaOptions {
    bool enabled = false;
    double conv = 0.25;    // patch embedding
    double linear = 0.05;  // MLP fc1, fc2 and the classifier (attention projections stay LRP-0, as lxt's V-TV)
};

struct RelevanceOptions {
    AttentionRule rule = AttentionRule::CP;
    Readout readout = Readout::Relevance;
    std::vector<Site> sites{Site::Intermediate, Site::Final};
    GammaOptions gamma;
    double identityEps = 1e-10;  // signed stabiliser of the GELU identity rule
    int maxTargetsPerPass = 32;  // bounds memory: targets beyond this go through in further passes
    bool accounting = true;      // also compute where the relevance went (pixels, CLS, position, biases)
};

// Whether the rules conserve the logit (pixels + CLS + position + biases = logit): CP-LRP without Gamma.
// AttnLRP (the softmax rule) and Gamma do not, by design.
inline bool conservesLogit(const RelevanceOptions& o) { return o.rule == AttentionRule::CP && !o.gamma.enabled; }

struct Target {
    int head = 0;    // index into VitModel::heads
    int classIndex = 0;
};

struct SiteRelevance {
    Site site;
    at::Tensor perNeuron;  // [T, layers, features]: summed over tokens
    at::Tensor perToken;   // [T, layers, tokens]:   summed over features
};

struct RelevanceResult {
    std::vector<Target> targets;
    std::vector<at::Tensor> logits;  // per head [C]
    at::Tensor inputHeatmap;         // [T, H, W]: sum over RGB of input x gradient (relevance, raw)
    std::vector<SiteRelevance> sites;
    // Accounting (relevance conservation; exact for CP without Gamma): per target [T]
    at::Tensor targetLogit, pixelRelevance, clsRelevance, positionRelevance, biasRelevance;
    const SiteRelevance* site(Site s) const;
};

// Plain inference: logits of every head for a batch of preprocessed images [B, 3, H, W].
std::vector<at::Tensor> vitLogits(const model::VitModel& model, const at::Tensor& pixels);

// Batched-target relevance for one preprocessed image [1, 3, H, W] (on the model's device).
RelevanceResult explainBatched(const model::VitModel& model, const at::Tensor& pixels, const std::vector<Target>& targets,
                               const RelevanceOptions& options, const JobControl& job = {});

// Reference path: LibTorch autograd with the rules written as detach algebra, one forward and one
// backward per target (what the published code does). Used to cross-check the batched engine and as
// the baseline in bench/. Gamma is not available here.
RelevanceResult explainWithAutograd(const model::VitModel& model, const at::Tensor& pixels, const std::vector<Target>& targets,
                                    const RelevanceOptions& options, const JobControl& job = {});

}  // namespace biasscope::explain
