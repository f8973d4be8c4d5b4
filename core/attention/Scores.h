#pragma once
// The Attention-IoU score family (reference-attention-iou.md section 4) on non-negative maps of equal
// size. p = P / sum P, q = Q / sum Q (L1, no epsilon): an all-zero map gives NaN (the caller decides:
// the mask score turns NaN into 0, the heatmap score skips it).
#include <cstddef>

namespace biasscope::attention {

// Attention-IoU = 4 sum(p q) / sum((p + q)^2); in [0, 1], symmetric, scale invariant, 1 iff p == q.
double attentionIoU(const float* P, const float* Q, std::size_t n);
// 1 - 1/2 sum |p - q| (one minus total variation)
double elementAbs(const float* P, const float* Q, std::size_t n);
// hard IoU: the top-k pixels of P (k = #(Q > 0.5)) against {Q > 0.5}; NaN if Q has no pixel > 0.5
double topKIoU(const float* P, const float* Q, std::size_t n);
// q at argmax P (first maximum), as published with normalised scores
double pointingGame(const float* P, const float* Q, std::size_t n);
// Attention-IoU of a uniform map against a binary mask covering a fraction f: 4f / (1 + 3f)
double uniformBaseline(double f);

}  // namespace biasscope::attention
