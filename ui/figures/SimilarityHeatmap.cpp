#include "figures/SimilarityHeatmap.h"

#include <cmath>
#include <limits>

#include <qcustomplot.h>

#include "common/Error.h"
#include "figures/FigureText.h"

namespace biasscope::ui {

SignificanceStyle parseSignificanceStyle(const QString& s) {
    if (s == "hide") return SignificanceStyle::Hide;
    if (s == "fade") return SignificanceStyle::Fade;
    if (s == "outline") return SignificanceStyle::Outline;
    throw InputError("unknown significance style '" + s.toStdString() + "' (expected hide, fade or outline)");
}

namespace {

QCPColorGradient stops(const std::vector<QColor>& colours) {
    QCPColorGradient g;
    g.clearColorStops();
    for (std::size_t i = 0; i < colours.size(); ++i) g.setColorStopAt(static_cast<double>(i) / static_cast<double>(colours.size() - 1), colours[i]);
    g.setNanHandling(QCPColorGradient::nhTransparent);
    return g;
}

// matplotlib 'coolwarm' and 'viridis', sampled
QCPColorGradient coolwarm() {
    return stops({QColor(59, 76, 192), QColor(98, 130, 234), QColor(141, 176, 254), QColor(184, 208, 249), QColor(221, 221, 221), QColor(245, 196, 173),
                  QColor(244, 154, 123), QColor(222, 96, 77), QColor(180, 4, 38)});
}
QCPColorGradient viridis() {
    return stops({QColor(68, 1, 84), QColor(72, 40, 120), QColor(62, 74, 137), QColor(49, 104, 142), QColor(38, 130, 142), QColor(31, 158, 137),
                  QColor(53, 183, 121), QColor(109, 205, 89), QColor(180, 222, 44), QColor(253, 231, 37)});
}

struct Axes {
    QCPAxisRect* rect;
    QCPColorMap* map;
    QCPColorScale* scale;
};

Axes gridFigure(QCustomPlot& plot, const QString& title, const LabelLayerGrid& g, const QString& caption, const QString& scaleLabel) {
    if (static_cast<int>(g.values.size()) != g.labels.size() * g.layers) throw InputError("heatmap values do not match labels x layers");
    const HeatmapFrame f = addHeatmapFrame(plot, title, caption, scaleLabel);
    QCPAxisRect* rect = f.rect;
    QCPColorScale* scale = f.scale;
    auto* xa = rect->axis(QCPAxis::atBottom);
    auto* ya = rect->axis(QCPAxis::atLeft);
    auto* map = new QCPColorMap(xa, ya);
    map->setInterpolate(false);
    map->setColorScale(scale);
    const int rows = static_cast<int>(g.labels.size());
    map->data()->setSize(g.layers, rows);
    map->data()->setRange(QCPRange(0, g.layers - 1), QCPRange(0, rows - 1));
    auto rowTicker = QSharedPointer<QCPAxisTickerText>::create();
    for (int r = 0; r < rows; ++r) rowTicker->addTick(rows - 1 - r, g.labels[r]);  // first label on top
    ya->setTicker(rowTicker);
    auto colTicker = QSharedPointer<QCPAxisTickerFixed>::create();
    colTicker->setTickStep(1.0);
    xa->setTicker(colTicker);
    xa->setRange(-0.5, g.layers - 0.5);
    ya->setRange(-0.5, rows - 0.5);
    xa->setLabel("Transformer layer");
    return {rect, map, scale};
}

}  // namespace

void buildSimilarityHeatmap(QCustomPlot& plot, const QString& title, const LabelLayerGrid& g, SignificanceStyle style, const QString& caption) {
    const Axes a = gridFigure(plot, title, g, caption, "mean cosine similarity");
    a.map->setGradient(coolwarm());
    a.map->setDataRange(QCPRange(-1, 1));
    const int rows = static_cast<int>(g.labels.size());
    for (int r = 0; r < rows; ++r)
        for (int l = 0; l < g.layers; ++l) {
            const std::size_t i = static_cast<std::size_t>(r * g.layers + l);
            const bool sig = i < g.significant.size() && g.significant[i];
            const double v = style == SignificanceStyle::Hide && !sig ? std::numeric_limits<double>::quiet_NaN() : g.values[i];
            a.map->data()->setCell(l, rows - 1 - r, v);
            if ((style == SignificanceStyle::Fade && !sig) || (style == SignificanceStyle::Outline && sig)) {
                auto* box = new QCPItemRect(&plot);
                box->setClipAxisRect(a.rect);
                box->topLeft->setAxes(a.rect->axis(QCPAxis::atBottom), a.rect->axis(QCPAxis::atLeft));
                box->bottomRight->setAxes(a.rect->axis(QCPAxis::atBottom), a.rect->axis(QCPAxis::atLeft));
                box->topLeft->setCoords(l - 0.5, rows - 1 - r + 0.5);
                box->bottomRight->setCoords(l + 0.5, rows - 1 - r - 0.5);
                if (style == SignificanceStyle::Fade) {
                    box->setPen(Qt::NoPen);
                    box->setBrush(QColor(255, 255, 255, 170));
                } else {
                    box->setPen(QPen(Qt::black, 1.4));
                    box->setBrush(Qt::NoBrush);
                }
            }
        }
    plot.replot();
}

void buildSemHeatmap(QCustomPlot& plot, const QString& title, const LabelLayerGrid& g, const QString& caption) {
    const Axes a = gridFigure(plot, title, g, caption, "SEM");
    a.map->setGradient(viridis());
    const int rows = static_cast<int>(g.labels.size());
    double mx = 0;
    for (int r = 0; r < rows; ++r)
        for (int l = 0; l < g.layers; ++l) {
            const double v = g.values[static_cast<std::size_t>(r * g.layers + l)];
            a.map->data()->setCell(l, rows - 1 - r, v);
            if (std::isfinite(v)) mx = std::max(mx, v);
        }
    a.map->setDataRange(QCPRange(0, mx > 0 ? mx : 1));
    plot.replot();
}

}  // namespace biasscope::ui
