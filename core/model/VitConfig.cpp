#include "model/VitConfig.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/Error.h"
#include "io/JsonFile.h"

namespace biasscope::model {

namespace {
constexpr std::int64_t kMaxLabels = 1000000;
}

void VitConfig::validate(const std::string& source) const {
    auto fail = [&](const std::string& what) { throw InputError(source + ": invalid ViT config: " + what); };
    if (hiddenSize <= 0 || numLayers <= 0 || numHeads <= 0 || intermediateSize <= 0 || patchSize <= 0 || imageSize <= 0)
        fail("sizes must be positive");
    if (hiddenSize > 65536 || numLayers > 1000 || numHeads > 4096 || intermediateSize > 1000000 || patchSize > 4096 || imageSize > 16384 || numLabels > kMaxLabels)
        fail("sizes above any ViT (hidden_size <= 65536, num_hidden_layers <= 1000, num_attention_heads <= 4096, intermediate_size <= 1e6, "
             "patch_size <= 4096, image_size <= 16384, num_labels <= 1e6)");
    if (hiddenSize % numHeads != 0)
        fail("hidden_size " + std::to_string(hiddenSize) + " is not divisible by num_attention_heads " + std::to_string(numHeads));
    if (imageSize < patchSize) fail("image_size is smaller than patch_size");
    if (numChannels != 3) fail("num_channels must be 3 (RGB), found " + std::to_string(numChannels));
    if (hiddenAct != "gelu") fail("hidden_act '" + hiddenAct + "' is not supported (exact erf 'gelu' only)");
    if (!(layerNormEps > 0)) fail("layer_norm_eps must be positive");
    if (imageMean.size() != 3 || imageStd.size() != 3) fail("image mean/std need 3 values");
    for (double s : imageStd)
        if (!(s > 0)) fail("image std must be positive");
    if (static_cast<std::int64_t>(id2label.size()) != numLabels)
        fail("id2label has " + std::to_string(id2label.size()) + " entries, num_labels is " + std::to_string(numLabels));
}

VitConfig VitConfig::fromJsonText(const std::string& text, const std::string& source) {
    const nlohmann::json j = io::parseJsonText(text, source);
    if (!j.is_object()) throw InputError(source + ": config must be a JSON object");
    VitConfig c;
    try {
        c.hiddenSize = j.value("hidden_size", c.hiddenSize);
        c.numLayers = j.value("num_hidden_layers", c.numLayers);
        c.numHeads = j.value("num_attention_heads", c.numHeads);
        c.intermediateSize = j.value("intermediate_size", c.intermediateSize);
        c.patchSize = j.value("patch_size", c.patchSize);
        c.imageSize = j.value("image_size", c.imageSize);
        c.numChannels = j.value("num_channels", c.numChannels);
        c.layerNormEps = j.value("layer_norm_eps", c.layerNormEps);
        c.hiddenAct = j.value("hidden_act", c.hiddenAct);
        if (j.contains("image_mean")) c.imageMean = j["image_mean"].get<std::vector<double>>();
        if (j.contains("image_std")) c.imageStd = j["image_std"].get<std::vector<double>>();
        // num_labels follows id2label when present (HF does the same)
        std::int64_t n = j.value("num_labels", static_cast<std::int64_t>(-1));
        if (n > kMaxLabels) throw InputError(source + ": num_labels " + std::to_string(n) + " is above " + std::to_string(kMaxLabels));
        if (j.contains("id2label") && j["id2label"].is_object()) {
            const auto& m = j["id2label"];
            if (n < 0) n = static_cast<std::int64_t>(m.size());
            c.id2label.assign(static_cast<std::size_t>(n), "");
            for (auto it = m.begin(); it != m.end(); ++it) {
                std::size_t pos = 0;
                long idx = -1;
                try {
                    idx = std::stol(it.key(), &pos);
                } catch (...) {
                }
                if (idx < 0 || pos != it.key().size() || idx >= n)
                    throw InputError(source + ": id2label key '" + it.key() + "' is not a class index below " + std::to_string(n));
                c.id2label[static_cast<std::size_t>(idx)] = it.value().get<std::string>();
            }
        }
        if (n < 0) n = c.numLabels;
        if (static_cast<std::int64_t>(c.id2label.size()) > kMaxLabels) throw InputError(source + ": more than " + std::to_string(kMaxLabels) + " labels");
        c.numLabels = n;
        c.id2label.resize(static_cast<std::size_t>(n));
        for (std::size_t i = 0; i < c.id2label.size(); ++i)
            if (c.id2label[i].empty()) c.id2label[i] = "LABEL_" + std::to_string(i);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(source + ": config field has the wrong type: " + io::jsonErrorText(e));
    }
    c.validate(source);
    return c;
}

VitConfig VitConfig::fromJsonFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open config file");
    std::stringstream ss;
    ss << in.rdbuf();
    return fromJsonText(ss.str(), path);
}

std::string VitConfig::toJsonText() const {
    nlohmann::json j;
    j["architectures"] = {"ViTForImageClassification"};
    j["model_type"] = "vit";
    j["hidden_size"] = hiddenSize;
    j["num_hidden_layers"] = numLayers;
    j["num_attention_heads"] = numHeads;
    j["intermediate_size"] = intermediateSize;
    j["patch_size"] = patchSize;
    j["image_size"] = imageSize;
    j["num_channels"] = numChannels;
    j["layer_norm_eps"] = layerNormEps;
    j["hidden_act"] = hiddenAct;
    j["qkv_bias"] = true;
    j["image_mean"] = imageMean;
    j["image_std"] = imageStd;
    nlohmann::json id2 = nlohmann::json::object(), l2id = nlohmann::json::object();
    for (std::size_t i = 0; i < id2label.size(); ++i) {
        id2[std::to_string(i)] = id2label[i];
        l2id[id2label[i]] = i;
    }
    j["id2label"] = id2;
    j["label2id"] = l2id;
    return j.dump(2);
}

}  // namespace biasscope::model
