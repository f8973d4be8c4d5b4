#include "model/VitLayouts.h"

#include <cmath>
#include <regex>
#include <vector>

#include <torch/types.h>

namespace biasscope::model {

using Kind = ModelLoadError::Kind;

namespace {

bool has(const StateDict& d, const std::string& k) { return d.count(k) != 0; }

bool startsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::string listKeys(const std::vector<std::string>& keys) {
    std::string out;
    for (std::size_t i = 0; i < keys.size() && i < 4; ++i) out += (i ? ", " : "") + keys[i];
    if (keys.size() > 4) out += ", ... (" + std::to_string(keys.size()) + " in all)";
    return out;
}

// Parts a layout can carry that BiasScope's ViT does not compute: each a key pattern and what it is.
struct Unsupported {
    std::regex pattern;
    const char* what;
};

void refuseUnsupported(const StateDict& dict, VitLayout layout, const std::string& source, const std::vector<Unsupported>& parts) {
    for (const auto& part : parts) {
        std::vector<std::string> found;
        for (const auto& [k, v] : dict)
            if (std::regex_search(k, part.pattern)) found.push_back(k);
        if (!found.empty())
            throw ModelLoadError(Kind::UnexpectedKey, source + ": " + layoutName(layout) + " ViT with " + part.what +
                                                          ", which BiasScope's ViT does not compute (" + listKeys(found) + ")");
    }
}

// Splits a fused [3D, D] (or [3D]) q/k/v tensor into the three HF projections.
void splitFused(StateDict& out, const at::Tensor& fused, const std::string& hfPrefix, const std::string& suffix, const std::string& key,
                const std::string& source) {
    if (fused.dim() < 1 || fused.size(0) % 3 != 0)
        throw ModelLoadError(Kind::ShapeMismatch, source + ": tensor '" + key + "' has shape " + c10::str(fused.sizes()) +
                                                      ", expected a fused q/k/v projection of 3 x hidden rows");
    const auto parts = fused.chunk(3, 0);
    out[hfPrefix + "attention.attention.query." + suffix] = parts[0].contiguous();
    out[hfPrefix + "attention.attention.key." + suffix] = parts[1].contiguous();
    out[hfPrefix + "attention.attention.value." + suffix] = parts[2].contiguous();
}

using Renames = std::vector<std::pair<std::string, std::string>>;

// How a layout names a ViT: its block key pattern (group 1: the block index, group 2: the rest), the renames
// of keys outside and inside the blocks (prefix -> HF prefix), and the names of its fused q/k/v projection.
struct LayoutNames {
    const std::regex& block;
    const Renames& global;
    const Renames& inBlock;
    std::string fusedWeight, fusedBias;
    bool zeroBiasWithoutFusedBias = false;  // timm qkv_bias=False: no bias is a zero bias
};

StateDict renameLayout(const StateDict& dict, const std::string& source, const LayoutNames& n) {
    const auto renamed = [](const std::string& key, const Renames& renames, bool exact) -> std::optional<std::string> {
        for (const auto& [from, to] : renames)
            if (startsWith(key, from) && (!exact || from.back() == '.' || key == from)) return to + key.substr(from.size());
        return std::nullopt;
    };
    StateDict out;
    for (const auto& [k, t] : dict) {
        std::smatch m;
        if (!std::regex_match(k, m, n.block)) {
            out[renamed(k, n.global, true).value_or(k)] = t;
            continue;
        }
        const std::string hf = "encoder.layer." + m[1].str() + ".", rest = m[2].str();
        if (rest == n.fusedWeight) {
            splitFused(out, t, hf, "weight", k, source);
            if (n.zeroBiasWithoutFusedBias && !has(dict, k.substr(0, k.size() - rest.size()) + n.fusedBias))
                splitFused(out, torch::zeros({t.size(0)}, t.options()), hf, "bias", k, source);
        } else if (rest == n.fusedBias) {
            splitFused(out, t, hf, "bias", k, source);
        } else if (const auto r = renamed(rest, n.inBlock, false)) {
            out[hf + *r] = t;
        } else {
            out[k] = t;  // unknown: kept under its own name, so the loader lists it
        }
    }
    return out;
}

StateDict fromTorchvision(const StateDict& dict, const std::string& source) {
    refuseUnsupported(dict, VitLayout::Torchvision, source,
                      {{std::regex("^heads\\.pre_logits\\."), "a pre-logits (representation) layer"},
                       {std::regex("^conv_proj\\.conv_"), "a convolutional stem"}});
    static const std::regex block(R"(^encoder\.layers\.encoder_layer_(\d+)\.(.+)$)");
    static const Renames global{{"conv_proj.", "embeddings.patch_embeddings.projection."},
                                                                  {"class_token", "embeddings.cls_token"},
                                                                  {"encoder.pos_embedding", "embeddings.position_embeddings"},
                                                                  {"encoder.ln.", "layernorm."},
                                                                  {"heads.head.", "classifier."}};
    static const Renames inBlock{{"ln_1.", "layernorm_before."},
                                                                   {"self_attention.out_proj.", "attention.output.dense."},
                                                                   {"ln_2.", "layernorm_after."},
                                                                   {"mlp.0.", "intermediate.dense."},
                                                                   {"mlp.linear_1.", "intermediate.dense."},  // torchvision < 0.13
                                                                   {"mlp.3.", "output.dense."},
                                                                   {"mlp.linear_2.", "output.dense."}};
    return renameLayout(dict, source, {block, global, inBlock, "self_attention.in_proj_weight", "self_attention.in_proj_bias", false});
}

StateDict fromTimm(const StateDict& dict, const std::string& source) {
    refuseUnsupported(dict, VitLayout::Timm, source,
                      {{std::regex(R"(^blocks\.\d+\.ls[12]\.)"), "layer scale (ls1 / ls2)"},
                       {std::regex("^reg_token$"), "register tokens"},
                       {std::regex("^dist_token$"), "a distillation token"},
                       {std::regex("^fc_norm\\."), "global average pooling (fc_norm)"},
                       {std::regex("^attn_pool\\."), "attention pooling"},
                       {std::regex("^norm_pre\\."), "a pre-LayerNorm before the blocks"},
                       {std::regex(R"(^blocks\.\d+\.attn\.[qk]_norm\.)"), "q/k normalisation"},
                       {std::regex(R"(^blocks\.\d+\.mlp\.norm\.)"), "a normalised MLP"},
                       {std::regex("^patch_embed\\.norm\\."), "a normalised patch embedding"},
                       {std::regex("^head_dist\\."), "a distillation head"}});
    if (auto pos = dict.find("pos_embed"); pos != dict.end() && pos->second.dim() == 3) {
        const auto n = pos->second.size(1);
        const auto side = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
        if (side * side == n)
            throw ModelLoadError(Kind::ShapeMismatch, source + ": timm ViT whose position embeddings (" + std::to_string(n) +
                                                          ") leave out the CLS token (no_embed_class), which BiasScope's ViT does not compute");
    }
    static const std::regex block(R"(^blocks\.(\d+)\.(.+)$)");
    static const Renames global{{"patch_embed.proj.", "embeddings.patch_embeddings.projection."},
                                                                  {"cls_token", "embeddings.cls_token"},
                                                                  {"pos_embed", "embeddings.position_embeddings"},
                                                                  {"norm.", "layernorm."},
                                                                  {"head.", "classifier."}};
    static const Renames inBlock{{"norm1.", "layernorm_before."}, {"attn.proj.", "attention.output.dense."},
                                                                   {"norm2.", "layernorm_after."},  {"mlp.fc1.", "intermediate.dense."},
                                                                   {"mlp.fc2.", "output.dense."}};
    return renameLayout(dict, source, {block, global, inBlock, "attn.qkv.weight", "attn.qkv.bias", true});
}

// transformers >= 5 names ViT modules anew in memory (`vit.layers.N.attention.q_proj`, `o_proj`, `mlp.fc1`,
// `mlp.fc2`) while save_pretrained writes the old names: a torch.save of such a model's state_dict holds the new ones.
StateDict fromTransformers5(const StateDict& dict) {
    static const std::regex block(R"(^(vit\.)?layers\.(\d+)\.(.+)$)");
    static const Renames inBlock{{"attention.q_proj.", "attention.attention.query."},
                                                                   {"attention.k_proj.", "attention.attention.key."},
                                                                   {"attention.v_proj.", "attention.attention.value."},
                                                                   {"attention.o_proj.", "attention.output.dense."},
                                                                   {"mlp.fc1.", "intermediate.dense."},
                                                                   {"mlp.fc2.", "output.dense."},
                                                                   {"layernorm_before.", "layernorm_before."},
                                                                   {"layernorm_after.", "layernorm_after."}};
    StateDict out;
    for (const auto& [k, t] : dict) {
        std::smatch m;
        std::string name = k;
        if (std::regex_match(k, m, block)) {
            const std::string rest = m[3].str();
            for (const auto& [from, to] : inBlock)
                if (startsWith(rest, from)) {
                    name = m[1].str() + "encoder.layer." + m[2].str() + "." + to + rest.substr(from.size());
                    break;
                }
        }
        out[name] = t;
    }
    return out;
}

}  // namespace

const char* layoutName(VitLayout layout) {
    switch (layout) {
        case VitLayout::HuggingFace: return "transformers";
        case VitLayout::Torchvision: return "torchvision";
        case VitLayout::Timm: return "timm";
    }
    return "?";
}

std::optional<VitLayout> detectVitLayout(const StateDict& d) {
    if (has(d, "vit.embeddings.patch_embeddings.projection.weight") || has(d, "embeddings.patch_embeddings.projection.weight"))
        return VitLayout::HuggingFace;
    if (has(d, "conv_proj.weight") && has(d, "encoder.pos_embedding")) return VitLayout::Torchvision;
    if (has(d, "patch_embed.proj.weight") && (has(d, "blocks.0.attn.qkv.weight") || has(d, "pos_embed"))) return VitLayout::Timm;
    return std::nullopt;
}

StateDict toHuggingFaceLayout(const StateDict& dict, VitLayout layout, const std::string& source) {
    switch (layout) {
        case VitLayout::HuggingFace: return fromTransformers5(dict);
        case VitLayout::Torchvision: return fromTorchvision(dict, source);
        case VitLayout::Timm: return fromTimm(dict, source);
    }
    return dict;
}

void applyLayoutDefaults(VitConfig& c, VitLayout layout) {
    switch (layout) {
        case VitLayout::HuggingFace: return;
        case VitLayout::Torchvision:
            c.layerNormEps = 1e-6;
            c.imageMean = {0.485, 0.456, 0.406};
            c.imageStd = {0.229, 0.224, 0.225};
            return;
        case VitLayout::Timm:
            c.layerNormEps = 1e-6;
            c.imageMean = {0.5, 0.5, 0.5};
            c.imageStd = {0.5, 0.5, 0.5};
            return;
    }
}

std::string describeUnknownLayout(const StateDict& dict, const std::string& source) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : dict) {
        keys.push_back(k);
        if (keys.size() == 4) break;
    }
    return source + ": not a ViT layout BiasScope reads (transformers ViT, torchvision vit_*, timm vit_*); its first keys: " + listKeys(keys) +
           (dict.size() > 4 ? ", ... (" + std::to_string(dict.size()) + " in all)" : "");
}

}  // namespace biasscope::model
