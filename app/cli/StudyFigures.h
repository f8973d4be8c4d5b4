#pragma once
// Consistency figures of the CLI (`published consistency`, `study analyze`): one figure per condition,
// block output dashed with squares, post-GELU solid with discs, rendered offscreen by ui/ when the
// GUI libraries are built (else a note is printed and only the CSV tables exist).
#include <map>
#include <string>
#include <vector>

#include "explain/Faithfulness.h"

namespace biasscope::cli {

struct ConsistencyFigureRequest {
    std::string outDir;
    std::vector<std::string> formats{"png", "pdf", "svg"};
    int dpi = 300;
    double width = 7.0, height = 4.2;
    double threshold = 0.9;
    std::map<std::string, std::string> provenance;  // written into each sidecar
    // optional error bars: set -> site -> per-layer interval ends, and what they are (for the caption)
    std::map<std::string, std::map<std::string, std::pair<std::vector<double>, std::vector<double>>>> intervals;
    std::string intervalNote;
};

// setsByCondition: condition -> its sets in drawing order; curves: set -> site -> percent per layer;
// images: set -> number of images that passed the threshold.
void renderConsistencyFigures(const std::map<std::string, std::vector<std::string>>& setsByCondition,
                              const std::map<std::string, std::map<std::string, std::vector<double>>>& curves, const std::map<std::string, int>& images,
                              const ConsistencyFigureRequest& request);

struct SimilarityFigureInput {
    std::vector<std::string> labels;
    int layers = 0;
    std::vector<double> mean, sem;  // labels x layers
    std::vector<bool> significant;
};

// similarity_<set>_<site>.<fmt> (coolwarm, [-1, 1], style hide | fade | outline) and sem_<set>_<site>.<fmt> (viridis).
void renderSimilarityFigures(const std::map<std::string, std::map<std::string, SimilarityFigureInput>>& bySetSite, const std::string& style,
                             const ConsistencyFigureRequest& request);

struct MapData {
    int rows = 0, columns = 0;
    std::vector<float> values;  // row-major
};

// One image and target of a relevance record (`lrp` output or a study store record).
struct RelevanceFigureInput {
    std::string stem, target, imageFile;  // imageFile may be empty (heatmap on white)
    MapData input;                        // [H, W]
    std::map<std::string, MapData> neurons, tokens;  // site -> [layers, features] / [layers, tokens]
};

struct RelevanceFigureStyle {
    double percentile = 100.0;  // symmetric limit = this percentile of |value| per map (100 = max)
    double alpha = 0.6;
    bool grayscale = true;
};

// <stem>_<target>_input.<fmt> (overlay), <stem>_<target>_<site>_neurons.<fmt>, <stem>_<target>_<site>_tokens.<fmt>
void renderRelevanceFigures(const RelevanceFigureInput& in, const RelevanceFigureStyle& style, const ConsistencyFigureRequest& request);

// Study 2: <stem>.<fmt> from finished score runs (their JSON sidecars); kind bars | bias | scatter.
// Pixel-flipping curves (faithfulness_curves.*) into request.outDir.
void renderFaithfulnessFigure(const std::vector<explain::FaithfulnessSummary>& summary, const std::string& subtitle, const ConsistencyFigureRequest& request);

void renderAttentionFigure(const std::vector<std::string>& sidecars, const std::string& kind, const std::string& stem, const ConsistencyFigureRequest& request);

}  // namespace biasscope::cli
