#pragma once
// How the Attention-IoU study turns per-image scores into its published numbers
// (reference-attention-iou.md sections 4.1, 4.2, 5, 7): per-sample grouping, per-model nanmean, then
// mean and population std (ddof 0) over models; the published CSV layouts; predicted MCC, accuracy,
// normalised AP and worst-group accuracy.
#include <cstdint>
#include <string>
#include <vector>

namespace biasscope::attention {

using Matrix = std::vector<std::vector<double>>;  // [row][column]

// CelebA rows: 0 TT (A=1, Male=1), 1 TF, 2 FT, 3 FF, 4 all. Waterbirds rows: 0 same (y == place),
// 1 different, 2 all.
const std::vector<std::string>& celebGroupNames();      // TT TF FT FF all
const std::vector<std::string>& waterbirdsGroupNames();  // same different all
std::vector<int> celebGroup(const std::vector<int>& attribute, const std::vector<int>& confounder);  // 0..3 per image
std::vector<int> waterbirdsGroup(const std::vector<int>& y, const std::vector<int>& place);         // 0 same, 1 different

// One model's table: rows = groups (+ "all" as the last row), columns = score columns (mask groups,
// or one heatmap score). perImage[i][c] is image i's score. NaN handling as published:
// nanToZero (mask score) counts NaN as 0; otherwise NaN is skipped. An empty group gives NaN.
Matrix groupMeans(const Matrix& perImage, const std::vector<int>& group, int groups, bool nanToZero);

// Across models: mean = nanmean_k, std = nanstd_k (population, ddof 0) of the per-model tables.
struct ModelAggregate {
    Matrix mean, std;
    std::vector<std::vector<int>> models;  // number of models with a finite value per cell
};
ModelAggregate aggregateModels(const std::vector<Matrix>& perModel);

// Published CSV layouts (np.savetxt, "%.8f", no header, "nan" literally):
// CelebA: rows mean[0..R-1] then std[0..R-1], columns as given (Masks: 14 groups; Heatmap: 1).
std::string celebCsv(const ModelAggregate& a);
// Waterbirds (transposed): one row per mask column (background, bird), columns mean same, diff,
// all, std same, diff, all.
std::string waterbirdsCsv(const ModelAggregate& a);

// Matthews correlation of two binary vectors (sklearn: 0 when the denominator is 0).
double mcc(const std::vector<int>& a, const std::vector<int>& b);
// MCC of a 2x2 count table in the study's order x = (A,M) = (0,0), (0,1), (1,0), (1,1).
double mccFromCounts(const double x[4]);

// Accuracy with per-image weights (the published "weighted accuracy": train-balanced class weights).
double weightedAccuracy(const std::vector<int>& predicted, const std::vector<int>& truth, const std::vector<double>& weights);
// Balanced class weights n / (2 n_c) computed on `trainLabels`, applied to `labels`.
std::vector<double> balancedSampleWeights(const std::vector<int>& trainLabels, const std::vector<int>& labels);

// Normalised AP (ap_utils.normalized_ap_wrapper): N = the shared normalising positive count.
// Thresholds in decreasing score order, ties grouped; nprec = tp N/P / (tp N/P + fp). NaN if the
// labels are all one class.
double normalizedAP(const std::vector<double>& scores, const std::vector<int>& labels, double N);

// Unweighted accuracy per group (e.g. celebGroup() / waterbirdsGroup() indices); NaN for an empty group.
std::vector<double> groupAccuracies(const std::vector<int>& predicted, const std::vector<int>& truth, const std::vector<int>& group, int groups);

// Worst-group accuracy over models: per group the mean accuracy over models, groups with fewer than
// minFraction of the images dropped, then the minimum; std = population std of that group.
struct WorstGroup {
    int group = -1;
    double mean = 0, std = 0;
};
WorstGroup worstGroup(const std::vector<std::vector<double>>& perModelGroupAccuracy, const std::vector<std::size_t>& groupSizes, double minFraction = 0.01);

}  // namespace biasscope::attention
