#pragma once
// The consistency plot (method.md section 4): per layer, % of images whose top-k contains the most
// frequent neuron; one figure per condition with four curves (male/female x block output/post-GELU).
#include <QColor>
#include <QString>
#include <vector>

class QCustomPlot;

namespace biasscope::ui {

struct ConsistencySeries {
    QString label;
    std::vector<double> percent;  // per layer
    QColor colour;
    bool dashed = false;
    bool squareMarker = false;
    std::vector<double> low, high;  // optional per-layer interval (e.g. a bootstrap CI), drawn as error bars; NaN: none
};

void buildConsistencyFigure(QCustomPlot& plot, const QString& title, const std::vector<ConsistencySeries>& series, const QString& caption);

}  // namespace biasscope::ui
