#pragma once
// The figures of study 2 (reference-attention-iou.md section 8), drawn from score results:
//   mask-score bars: one horizontal stacked bar per result (segments = mask parts, "all" row, error
//     bars = population std over models), labelled from the data (the published teaser swaps them);
//   score vs bias: Waterbirds mask scores of bird and background against the training bias P;
//   heatmap-score scatter: one point per attribute, x = |MCC(pred A, pred Male)|, y = heatmap score,
//     error bars both ways, colour = a third value on a magma colour bar.
#include <QColor>
#include <QString>
#include <vector>

#include "attention/AttentionStudy.h"

class QCustomPlot;
class QCPColorGradient;

namespace biasscope::ui {

// The study's palette (make_figures.ipynb) and its part -> colour table.
const std::vector<QColor>& studyPalette();
QColor partColour(const QString& part, int fallbackIndex);
void applyMagmaGradient(QCPColorGradient& g);

struct StackedBar {
    QString label;
    std::vector<double> values, errors;  // one per segment
};
void buildMaskBarsFigure(QCustomPlot& plot, const QString& title, const std::vector<QString>& segments, const std::vector<StackedBar>& bars, const QString& caption);

struct CurveSeries {
    QString label;
    std::vector<double> x, y, err;
    QColor colour;
};
void buildScoreCurveFigure(QCustomPlot& plot, const QString& title, const std::vector<CurveSeries>& series, const QString& xLabel, const QString& yLabel,
                           const QString& caption);

struct ScatterPoint {
    QString label;
    double x = 0, xErr = 0, y = 0, yErr = 0, colourValue = 0;
    bool annotate = false;
};
void buildScoreScatterFigure(QCustomPlot& plot, const QString& title, const std::vector<ScatterPoint>& points, const QString& xLabel, const QString& yLabel,
                             const QString& colourLabel, const QString& caption);

// The figure of `kind` from finished score runs (as the Attention-IoU view and `aiou figure` draw it):
//   MaskBars: every mask result with the first one's parts, Waterbirds sorted by bias (lowest on top),
//     the true uniform-map bar last;
//   ScoreVsBias: Waterbirds mask results with a known training bias;
//   HeatmapScatter: heatmap results with an evaluation (|MCC| on x, worst-group accuracy as colour).
enum class AttentionFigure { MaskBars = 0, ScoreVsBias = 1, HeatmapScatter = 2 };
void buildAttentionFigure(QCustomPlot& plot, AttentionFigure kind, const std::vector<attention::ScoreSummary>& results);

}  // namespace biasscope::ui
