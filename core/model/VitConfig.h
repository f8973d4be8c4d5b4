#pragma once
// Geometry of a Hugging Face ViTForImageClassification (config.json), e.g. google/vit-base-patch16-224.
#include <cstdint>
#include <string>
#include <vector>

namespace biasscope::model {

struct VitConfig {
    std::int64_t hiddenSize = 768;
    std::int64_t numLayers = 12;
    std::int64_t numHeads = 12;
    std::int64_t intermediateSize = 3072;
    std::int64_t patchSize = 16;
    std::int64_t imageSize = 224;
    std::int64_t numChannels = 3;
    double layerNormEps = 1e-12;
    std::string hiddenAct = "gelu";
    std::int64_t numLabels = 1000;
    std::vector<std::string> id2label;  // empty names are filled with "LABEL_i"
    // Preprocessing of the checkpoint's image processor (ViTImageProcessor defaults).
    std::vector<double> imageMean{0.5, 0.5, 0.5};
    std::vector<double> imageStd{0.5, 0.5, 0.5};

    std::int64_t gridSize() const { return imageSize / patchSize; }
    std::int64_t numPatches() const { return gridSize() * gridSize(); }
    std::int64_t numTokens() const { return numPatches() + 1; }
    std::int64_t headDim() const { return hiddenSize / numHeads; }

    // Throws InputError naming `source` if the geometry is inconsistent.
    void validate(const std::string& source) const;

    static VitConfig fromJsonFile(const std::string& path);
    static VitConfig fromJsonText(const std::string& text, const std::string& source);
    std::string toJsonText() const;  // HF-compatible config.json
};

}  // namespace biasscope::model
