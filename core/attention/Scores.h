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

// Localisation measures of a map P against a mask, the mask binarised as B = {Q > 0.5} (Quantus' localisation
// family; formulas from their papers). Each is NaN when B is empty; their definitions and what they can show
// are in docs/attention-iou.md.
// Relevance mass accuracy (Arras et al. 2022): sum of P inside B / sum of P. NaN also when sum P = 0.
double relevanceMassAccuracy(const float* P, const float* Q, std::size_t n);
// Relevance rank accuracy (Arras et al. 2022): the share of B among the |B| pixels of highest P. Pixels tied
// with the |B|-th value count by their expected share (as if the ties were ordered at random), so the result
// does not depend on the pixel order.
double relevanceRankAccuracy(const float* P, const float* Q, std::size_t n);
// Area under the ROC curve of P as a score for membership of B (ties count one half: the Mann-Whitney
// statistic, equal to sklearn's roc_curve + auc). NaN also when B covers every pixel.
double localisationAuc(const float* P, const float* Q, std::size_t n);

}  // namespace biasscope::attention
