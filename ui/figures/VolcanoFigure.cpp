#include "figures/VolcanoFigure.h"

#include <cmath>

#include <qcustomplot.h>

#include "figures/FigureText.h"

namespace biasscope::ui {

double volcanoHeight(double q) { return -std::log10(std::max(q, 1e-300)); }

void buildVolcanoFigure(QCustomPlot& plot, const QString& title, const std::vector<VolcanoPoint>& points, const std::optional<VolcanoPoint>& ringed,
                        const QString& ringedLabel, const QString& caption, double alpha) {
    // the legend beside the axes: inside them it would hide the strongest neurons
    const auto frame = addSideLegendFrame(plot, title, "effect size d (signed: first minus second)", "−log10 q (BH)");
    auto* rect = frame.rect;
    auto* xa = rect->axis(QCPAxis::atBottom);
    auto* ya = rect->axis(QCPAxis::atLeft);
    QVector<double> xs, ys, xn, yn;
    double ymax = volcanoHeight(alpha) * 1.2, xmax = 0.5;
    for (const auto& p : points) {
        if (!std::isfinite(p.d) || !std::isfinite(p.q)) continue;
        const double y = volcanoHeight(p.q);
        (p.significant ? xs : xn) << p.d;
        (p.significant ? ys : yn) << y;
        ymax = std::max(ymax, y * 1.08);
        xmax = std::max(xmax, std::fabs(p.d) * 1.08);
    }
    auto scatter = [&](const QVector<double>& x, const QVector<double>& y, const QPen& pen, const QBrush& brush, double size, const QString& name) {
        auto* g = plot.addGraph(xa, ya);
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, pen, brush, size));
        g->setData(x, y);
        g->setName(name);
        return g;
    };
    scatter(xn, yn, QPen(QColor(150, 150, 150)), QColor(150, 150, 150, 160), 4, QString("q ≥ %1").arg(alpha));
    scatter(xs, ys, QPen(QColor(214, 39, 40)), QColor(214, 39, 40), 4, QString("q < %1").arg(alpha));
    if (ringed && std::isfinite(ringed->d) && std::isfinite(ringed->q)) {
        auto* g = scatter({ringed->d}, {volcanoHeight(ringed->q)}, QPen(QColor(255, 170, 0), 2.5), Qt::NoBrush, 11, ringedLabel);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(QColor(255, 170, 0), 2.5), Qt::NoBrush, 11));
    }
    auto* line = new QCPItemStraightLine(&plot);
    line->setClipAxisRect(rect);
    line->point1->setAxes(xa, ya);
    line->point2->setAxes(xa, ya);
    line->point1->setCoords(0, volcanoHeight(alpha));
    line->point2->setCoords(1, volcanoHeight(alpha));
    line->setPen(QPen(QColor(120, 120, 120), 1, Qt::DashLine));
    xa->setRange(-xmax, xmax);
    ya->setRange(0, ymax);
    for (int i = 0; i < plot.graphCount(); ++i) plot.graph(i)->addToLegend(frame.legend);
    if (!caption.isEmpty()) addWrappedText(plot, 2, caption, QFont("sans", 7), QColor(70, 70, 70));
    plot.replot();
}

}  // namespace biasscope::ui
