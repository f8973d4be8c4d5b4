#pragma once
// Titles and captions of figures are wrapped at word boundaries to the figure's width, so no text is
// ever clipped, also at one-column width (3.5 in).
#include <QColor>
#include <QFont>
#include <QString>

class QCustomPlot;
class QCPTextElement;
class QCPAxisRect;
class QCPColorScale;
class QCPGraph;
class QCPLegend;

namespace biasscope::ui {

// Inserts line breaks so that no line is wider than maxWidth pixels in `font` (a single word longer
// than maxWidth stays on its own line).
QString wrapText(const QString& text, const QFont& font, int maxWidth);

// A wrapped text element in row `row`, column 0 of the plot's main layout (spanning it), sized to the
// plot's current width.
QCPTextElement* addWrappedText(QCustomPlot& plot, int row, const QString& text, const QFont& font, const QColor& colour = Qt::black);

// The frame of every heatmap figure: clears the plot; title (row 0), an axis rect with a colour scale
// beside it (row 1, own grid so title and caption span the full width), caption (row 2, if any);
// figure fonts, no grid lines.
struct HeatmapFrame {
    QCPAxisRect* rect;
    QCPColorScale* scale;
};
HeatmapFrame addHeatmapFrame(QCustomPlot& plot, const QString& title, const QString& caption, const QString& scaleLabel);

// The frame of the curve and scatter figures with a legend beside the axes (volcano, pixel flipping):
// clears the plot; title (row 0); the axis rect and a borderless legend to its right (row 1, own grid);
// axis labels 9 pt bold, ticks 8 pt. The caption goes to row 2 (addWrappedText) once the graphs exist;
// add them to `legend` with QCPGraph::addToLegend.
struct SideLegendFrame {
    QCPAxisRect* rect;
    QCPLegend* legend;
};
SideLegendFrame addSideLegendFrame(QCustomPlot& plot, const QString& title, const QString& xLabel, const QString& yLabel);

}  // namespace biasscope::ui
