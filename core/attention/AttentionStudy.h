#pragma once
// The Attention-IoU pipeline of study 2 (reference-attention-iou.md sections 3-5, 7) on a data set:
// for every model, GradCAM maps on the evaluation split, per-image scores against the masks (mask
// score) or against the confounder's map (heatmap score), per-group means; then mean +- population
// std over models, written in the published CSV layout with a JSON sidecar. Per-model results are
// kept in <out>/models/<name>.csv, so an interrupted run resumes with the models not yet done.
#include <optional>
#include <string>
#include <vector>

#include "attention/Aggregation.h"
#include "attention/GradCam.h"
#include "common/JobControl.h"

namespace biasscope::attention {

enum class ScoreKind { Mask, Heatmap };
enum class MapKind { GradCam, AttnLrp, CpLrp };
MapKind parseMapKind(const std::string& s);  // gradcam | attnlrp | cp-lrp
const char* mapLabel(MapKind k);             // "GradCAM" | "AttnLRP" | "CPLRP" (file names and sidecars)

struct AttentionRunOptions {
    std::string dataset = "waterbirds";  // waterbirds | celeba
    std::string root;                    // data folder
    std::vector<std::string> models;     // CNN weights (.safetensors / .pth) or ViT checkpoints (HF dir)
    ScoreKind score = ScoreKind::Mask;
    MapKind map = MapKind::GradCam;      // LRP maps: ViT models only
    std::string attribute;               // CelebA: the map's attribute A
    std::string confounder = "Male";     // CelebA: grouping and the heatmap score's second map
    std::string split = "test";          // train | val | test
    int size = 224;                      // input size (resize to size * 256 / 224, centre crop)
    int batchSize = 16;
    int vitLayer = -2;                   // ViT block whose output tokens are explained (the last block's patch tokens never reach the head)
    VitCamSite vitSite = VitCamSite::BlockOutput;  // Norm1 at -1: the published code's `encoder.layers[-1].ln_1`
    bool positiveScores = false;         // CelebA: z_t instead of |z_t|
    std::string outDir;
};

struct AttentionRunResult {
    ModelAggregate aggregate;
    std::vector<std::string> rowNames, columnNames;
    std::vector<Matrix> perModel;  // per-model group tables
    std::vector<std::string> modelNames;
    Matrix uniformBaseline;        // mean over images of the uniform map's score per group and column (mask score)
    std::string csvPath, sidecarPath;
    std::vector<std::string> warnings;  // all-zero / constant maps, per model and image
    // mask scores: localisation measures beside Attention-IoU (not published): per score column mass accuracy,
    // rank accuracy and AUC (localisationColumns "<column>:<measure>"), per model and over models
    std::vector<Matrix> localisationPerModel;
    ModelAggregate localisation;
    std::vector<std::string> localisationColumns;
    std::string localisationCsvPath;
    int resumedModels = 0;
    std::size_t images = 0;
};

AttentionRunResult runAttentionScores(const AttentionRunOptions& options, const JobControl& job = {});

// A finished score run read back from its JSON sidecar (for tables and figures): group rows x score
// columns, mean and population std over models, the uniform-map baseline (mask scores) and, for
// Waterbirds, the training split's place agreement (the bias P). Errors name the file.
struct ScoreSummary {
    std::string path, score, map, dataset, attribute, confounder;
    std::vector<std::string> rows, columns, models;
    Matrix mean, std, uniform;
    double trainAgreement = 0;  // NaN when unknown
    // from evaluation-<tag>.json in the same folder, when present: {mean, population std} over models
    std::optional<std::pair<double, double>> mcc, worstGroupAccuracy;
    // mask runs: the localisation measures (not published), columns "<column>:<measure>", group rows
    std::vector<std::string> localisationColumns;
    Matrix localisationMean, localisationStd;
    // one measure's table: rows x score columns; measure "mass_accuracy" | "rank_accuracy" | "auc"
    std::pair<Matrix, Matrix> localisationTable(const std::string& measure) const;
};
ScoreSummary readScoreSummary(const std::string& sidecarPath);

// Maps of `count` images of the split from image `first` on, for one model (figures, the GUI, checks):
// the images, their preprocessed pixels [N, 3, S, S], masks [N, K, S, S] (K = 2 Waterbirds, 14 CelebA
// groups), the map of the explained output (Waterbirds: predicted class; CelebA: --attribute) and,
// for CelebA, the confounder's map (the heatmap score's second map). Per image: group and labels.
struct MapSample {
    std::vector<std::string> images;
    std::vector<std::string> groupNames;  // per image: its score group (TT/TF/FT/FF or same/different)
    std::vector<int> labels, confounders; // Waterbirds: y, place; CelebA: A, confounder
    std::vector<std::string> maskNames;   // the K mask columns
    at::Tensor pixels, masks;
    CamResult map, confounderMap;         // confounderMap: CelebA only
    std::string modelName, modelDescription, mapLabel;
    std::vector<double> imageMean, imageStd;  // the model's normalisation (pixels * std + mean = RGB in [0, 1])
    std::size_t splitSize = 0;            // images in the whole split
};
MapSample sampleMaps(const AttentionRunOptions& options, const std::string& model, std::size_t first, std::size_t count,
                     CamTarget target = CamTarget::PredictedClass, std::int64_t index = 0);

// Predictions on the evaluation split and the published evaluations (Waterbirds: accuracy per group
// y*2+place and worst group; CelebA: accuracy of A, MCC(pred A, pred confounder), group accuracies,
// worst group), mean +- population std over models. Writes evaluations-<model>.csv (one predicted
// class / 0-1 row per image, published layout) and evaluation-<tag>.json (tag: waterbirds95, all_<A>_<confounder>).
struct EvaluationResult {
    std::vector<std::string> metricNames;
    std::vector<std::vector<double>> perModel;  // [model][metric]
    std::vector<double> mean, std;
    std::string jsonPath;
};
EvaluationResult runEvaluation(const AttentionRunOptions& options, const JobControl& job = {});

}  // namespace biasscope::attention
