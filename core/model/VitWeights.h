#pragma once
// Weights of a Hugging Face ViTForImageClassification, validated against its config, and the
// loaders for the file formats users have: HF model directory, .safetensors (+config), torch.save .pth.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "common/Error.h"
#include "model/VitConfig.h"

namespace biasscope::model {

struct LinearWeights {
    at::Tensor weight;  // [out, in]
    at::Tensor bias;    // [out]
};

struct LayerNormWeights {
    at::Tensor weight;  // gamma [D]
    at::Tensor bias;    // beta [D]
};

struct VitBlockWeights {
    LayerNormWeights layernormBefore, layernormAfter;
    LinearWeights query, key, value, attentionOutput, intermediate, output;
};

struct VitBackbone {
    VitConfig config;
    at::Tensor clsToken;            // [1, 1, D]
    at::Tensor positionEmbeddings;  // [1, T, D]
    LinearWeights patchProjection;  // weight [D, 3, P, P], bias [D]
    std::vector<VitBlockWeights> blocks;
    LayerNormWeights finalLayernorm;
};

struct ClassifierHead {
    std::string name;
    LinearWeights linear;  // [C, D], [C]
    std::vector<std::string> labels;
    std::string sourcePath;
    std::string sourceSha256;
    int labelIndex(const std::string& nameOrIndex) const;  // -1 if unknown
};

// A backbone with one or more heads that share its forward pass.
struct VitModel {
    VitBackbone backbone;
    std::vector<ClassifierHead> heads;
    bool configInferred = false;  // true when no config.json was found and the geometry was read off the tensors
    std::string sourceLayout = "transformers";  // the checkpoint's layout: transformers | torchvision | timm (model/VitLayouts.h)

    const ClassifierHead& head(const std::string& name) const;  // "" = first head
    VitModel to(const at::Device& device) const;
};

class ModelLoadError : public Error {
public:
    enum class Kind { Unreadable, MissingKey, UnexpectedKey, ShapeMismatch, UnsupportedDType, BackboneMismatch, Config };
    ModelLoadError(Kind kind, const std::string& message) : Error(message), kind_(kind) {}
    Kind kind() const { return kind_; }

private:
    Kind kind_;
};

using StateDict = std::map<std::string, at::Tensor>;

// Reads tensors from a .safetensors or torch.save (zip) file, detected by content, not extension.
StateDict readStateDict(const std::string& path);

// Loads a model from a HF model directory, a .safetensors file or a .pth file, in the transformers,
// torchvision or timm layout (model/VitLayouts.h). The config is taken from `configPath`, else from
// config.json beside the weights, else inferred from tensor shapes (with the layout's epsilon and
// preprocessing).
VitModel loadVitModel(const std::string& path, const std::optional<std::string>& configPath = std::nullopt,
                      const std::string& headName = "");

// Adds the classifier of another checkpoint as a head; throws BackboneMismatch if its backbone
// differs from the model's (then the heads cannot share one forward pass).
void addHeadFrom(VitModel& model, const std::string& path, const std::optional<std::string>& configPath, const std::string& headName);

// Builds the model from an in-memory state dict (HF keys, with or without the "vit." prefix).
VitModel vitModelFromStateDict(const StateDict& dict, const VitConfig& config, const std::string& source, const std::string& headName);

// Geometry read off the tensors when a checkpoint comes without config.json.
VitConfig inferVitConfig(const StateDict& dict, const std::string& source);

// HF key names and float32 CPU tensors of a backbone + one head (for writing checkpoints).
std::vector<std::pair<std::string, at::Tensor>> toHuggingFaceStateDict(const VitModel& model, int headIndex = 0);

}  // namespace biasscope::model

namespace biasscope::model {
// Writes a Hugging Face model directory: config.json + model.safetensors (head `headIndex`).
void saveHuggingFaceDirectory(const VitModel& model, const std::string& dir, int headIndex = 0);
}  // namespace biasscope::model
