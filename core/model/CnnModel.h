#pragma once
// The CNNs of the Attention-IoU study (reference-attention-iou.md section 2), in the torchvision
// state-dict layout, with the structure read off the checkpoint's keys and shapes:
//   ResNet (BasicBlock or Bottleneck, any blocks per stage and width): resnet18, resnet50, ...;
//   resnet50_extended: the published head, "resnet.*" = a ResNet whose fc is Linear(2048, 2048),
//     then fc(Dropout(0.5)(ReLU(x)));
//   EfficientNetV2 (Fused-MBConv / MBConv stages, stride table of efficientnet_v2_s): features.* and
//     classifier(.1).
// Weights load from .safetensors or torch.save(state_dict) zip files (a "module." prefix from
// DataParallel is removed). The forward is split at the published GradCAM layer (ResNet layer4[-1],
// EfficientNet features[-1]): cnnFeatures() gives that layer's output, cnnHead() the logits from it.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/VitWeights.h"  // StateDict, ModelLoadError, readStateDict

namespace biasscope::model {

enum class CnnFamily { ResNet, EfficientNetV2 };

struct CnnModel {
    CnnFamily family = CnnFamily::ResNet;
    std::string arch;         // "resnet18", "resnet50", "resnet50_extended", "efficientnet_v2_s", or a description
    bool extendedHead = false;
    bool bottleneck = false;  // ResNet block type
    std::vector<int> stageBlocks;
    std::int64_t featureChannels = 0;  // channels of the GradCAM layer
    std::int64_t numClasses = 0;
    std::vector<std::string> labels;
    std::vector<double> imageMean{0.485, 0.456, 0.406}, imageStd{0.229, 0.224, 0.225};
    StateDict weights;  // float32, torchvision keys
    std::string source;

    // Tensors a training step updates (conv / BN affine / linear), in key order.
    std::vector<at::Tensor> parameters() const;
    CnnModel to(const at::Device& device) const;  // tensors moved; the maps share nothing with this
    std::string describe() const;                 // "resnet18: BasicBlock [2,2,2,2], 512 feature channels, 2 classes"
};

// Builds the model from a state dict; throws ModelLoadError naming `source` and the key.
CnnModel cnnFromStateDict(const StateDict& dict, const std::string& source);
// Reads .safetensors (metadata "labels" = JSON list used when present) or a torch.save zip.
CnnModel loadCnnModel(const std::string& path);
// Writes a .safetensors file with the torchvision keys and metadata arch + labels.
void saveCnnModel(const CnnModel& model, const std::string& path);

// A freshly initialised network with torchvision's initialisation (Kaiming normal fan_out for
// convolutions, BN 1/0, Linear U(+-1/sqrt(in))), from the seed only.
struct CnnSpec {
    std::string arch = "resnet18";  // resnet18 | resnet50 | resnet50_extended | efficientnet_v2_s | resnet | efficientnet_v2
    std::vector<int> stageBlocks;   // for "resnet" / "efficientnet_v2": blocks per stage (4 / 6 stages)
    std::vector<std::int64_t> stageWidths;  // ResNet: 4 widths; EfficientNet: stem + 6 stage widths + head (8 values)
    bool bottleneck = false;
    std::int64_t numClasses = 2;
    std::uint64_t seed = 0;
};
CnnModel makeRandomCnn(const CnnSpec& spec);

// The published fine-tuning start: `base` (e.g. torchvision ImageNet weights) with a fresh, seeded
// classifier for `numClasses` outputs (torch.nn.Linear's initialisation):
//   ResNet: fc = Linear(C, n);
//   `extended` (resnet50_extended): from a plain ResNet the keys move under "resnet.", resnet.fc =
//     Linear(C, C) and fc = Linear(C, n), both fresh; from an extended model only fc is fresh;
//   EfficientNetV2: classifier = Linear(C, n) (the ImageNet dropout removed, as published).
CnnModel cnnWithNewHead(const CnnModel& base, std::int64_t numClasses, bool extended, std::uint64_t seed);

// Output of the GradCAM layer, [B, C, h, w]. `train`: BN uses batch statistics and updates its
// running averages, stochastic depth is active.
at::Tensor cnnFeatures(const CnnModel& model, const at::Tensor& pixels, bool train = false);
// Logits [B, classes] from cnnFeatures() output (global average pool + classifier).
at::Tensor cnnHead(const CnnModel& model, const at::Tensor& features, bool train = false);
inline at::Tensor cnnLogits(const CnnModel& m, const at::Tensor& pixels, bool train = false) { return cnnHead(m, cnnFeatures(m, pixels, train), train); }

}  // namespace biasscope::model
