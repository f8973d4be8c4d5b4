#pragma once
// The ViT checkpoint layouts researchers have, read into BiasScope's one ViT (the Hugging Face
// ViTForImageClassification parametrisation, model/VitWeights.h):
//   - Hugging Face transformers: `vit.embeddings.*`, `vit.encoder.layer.N.*`, `classifier.*`;
//   - torchvision `vit_b_16` and friends: `conv_proj`, `class_token`, `encoder.pos_embedding`,
//     `encoder.layers.encoder_layer_N.{ln_1, self_attention.in_proj_*, ln_2, mlp.0, mlp.3}`, `heads.head`;
//   - timm `vit_base_patch16_224`-style: `patch_embed.proj`, `cls_token`, `pos_embed`,
//     `blocks.N.{norm1, attn.qkv (fused), attn.proj, norm2, mlp.fc1, mlp.fc2}`, `norm`, `head`.
// The three compute the same function (pre-LN blocks, exact GELU, CLS token after the final
// LayerNorm); only the names, the fused q/k/v projections and the LayerNorm epsilon differ
// (1e-12 in transformers' ViT, 1e-6 in torchvision and timm). Parts the rules do not cover (layer
// scale, register or distillation tokens, a pre-logits layer, global average pooling) are refused
// with a message that names them, never guessed.
#include <optional>
#include <string>

#include "model/VitConfig.h"
#include "model/VitWeights.h"

namespace biasscope::model {

enum class VitLayout { HuggingFace, Torchvision, Timm };
const char* layoutName(VitLayout layout);  // "transformers" | "torchvision" | "timm"

// The layout whose characteristic keys the state dict holds; nullopt when it holds none of them.
std::optional<VitLayout> detectVitLayout(const StateDict& dict);

// The state dict under Hugging Face names (unprefixed: "embeddings.*", "encoder.layer.N.*",
// "layernorm.*", "classifier.*"); q/k/v split from fused projections. A HF dict keeps its names (with or
// without "vit."), except transformers >= 5's in-memory module names (`layers.N.attention.q_proj`, ...),
// which become the names save_pretrained writes.
// Keys the layout does not know are passed through under their own names (the loader then lists them
// as unexpected). Throws ModelLoadError naming `source` and the keys of an unsupported part.
StateDict toHuggingFaceLayout(const StateDict& dict, VitLayout layout, const std::string& source);

// What a checkpoint without config.json means in each layout: the LayerNorm epsilon of its library
// and the preprocessing its library's weights were trained with (transformers' ViTImageProcessor:
// mean = std = 0.5; torchvision's ViT weights: the ImageNet mean and std; timm's vit_*_patch16_224
// (augreg): mean = std = 0.5).
void applyLayoutDefaults(VitConfig& config, VitLayout layout);

// One line for a state dict that is no ViT layout BiasScope reads: the first keys found.
std::string describeUnknownLayout(const StateDict& dict, const std::string& source);

}  // namespace biasscope::model
