#pragma once
// Similarity heatmaps (method.md section 4): label x layer mean cosine similarity to the gender
// reference, coolwarm centred at 0 with limits [-1, 1]; cells with q >= 0.05 are hidden (published),
// faded, or the significant ones outlined. The SEM map uses viridis.
#include <QString>
#include <QStringList>
#include <vector>

class QCustomPlot;

namespace biasscope::ui {

enum class SignificanceStyle { Hide, Fade, Outline };
SignificanceStyle parseSignificanceStyle(const QString& s);  // hide | fade | outline

struct LabelLayerGrid {
    QStringList labels;          // rows
    int layers = 0;              // columns
    std::vector<double> values;  // labels x layers, row-major
    std::vector<bool> significant;
};

void buildSimilarityHeatmap(QCustomPlot& plot, const QString& title, const LabelLayerGrid& grid, SignificanceStyle style, const QString& caption);
void buildSemHeatmap(QCustomPlot& plot, const QString& title, const LabelLayerGrid& grid, const QString& caption);

}  // namespace biasscope::ui
