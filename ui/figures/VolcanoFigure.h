#pragma once
// The volcano plot of per-neuron tests: signed effect size d against -log10 q, the neurons with
// q < alpha in red, the threshold dashed, one neuron optionally ringed. Used by the explorer.
#include <QString>
#include <optional>
#include <vector>

class QCustomPlot;

namespace biasscope::ui {

struct VolcanoPoint {
    double d = 0, q = 1;
    bool significant = false;
};

// -log10 q as drawn: q = 0 (a p-value that underflowed) is drawn at 300.
double volcanoHeight(double q);

// Points with NaN d or q are not drawn (the caller says how many in the caption).
void buildVolcanoFigure(QCustomPlot& plot, const QString& title, const std::vector<VolcanoPoint>& points, const std::optional<VolcanoPoint>& ringed,
                        const QString& ringedLabel, const QString& caption, double alpha = 0.05);

}  // namespace biasscope::ui
