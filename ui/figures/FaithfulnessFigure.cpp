#include "figures/FaithfulnessFigure.h"

#include <cmath>

#include <qcustomplot.h>

#include "figures/FigureText.h"

namespace biasscope::ui {

void buildFaithfulnessFigure(QCustomPlot& plot, const QString& title, const std::vector<explain::FaithfulnessSummary>& summary, const QString& caption) {
    const auto frame = addSideLegendFrame(plot, title, "share of patches removed", "target logit (mean over images)");
    auto* rect = frame.rect;
    auto* xa = rect->axis(QCPAxis::atBottom);
    auto* ya = rect->axis(QCPAxis::atLeft);
    static const QColor colours[] = {QColor(0x1f, 0x77, 0xb4), QColor(0xd6, 0x27, 0x28), QColor(0x2c, 0xa0, 0x2c), QColor(0x94, 0x67, 0xbd),
                                     QColor(0x7f, 0x7f, 0x7f), QColor(0xff, 0x7f, 0x0e)};
    double lo = INFINITY, hi = -INFINITY;
    std::vector<QCPGraph*> named;
    for (std::size_t i = 0; i < summary.size(); ++i) {
        const auto& s = summary[i];
        const QColor c = colours[i % 6];
        QVector<double> x(s.fraction.begin(), s.fraction.end());
        for (const auto& [curve, dashed] : {std::pair{&s.morf, false}, std::pair{&s.lerf, true}}) {
            auto* g = plot.addGraph(xa, ya);
            g->setData(x, QVector<double>(curve->begin(), curve->end()), true);
            QPen pen(c, 1.6);
            if (dashed) pen.setStyle(Qt::DashLine);
            g->setPen(pen);
            for (double v : *curve) lo = std::min(lo, v), hi = std::max(hi, v);
            if (!dashed) {
                g->setName(std::isfinite(s.abpcSem) ? QString("%1: ABPC %2 ± %3").arg(explain::toString(s.map)).arg(s.abpc, 0, 'g', 3).arg(s.abpcSem, 0, 'g', 2)
                                                    : QString("%1: ABPC %2").arg(explain::toString(s.map)).arg(s.abpc, 0, 'g', 3));
                named.push_back(g);
            }
        }
    }
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    const double pad = std::max(1e-6, (hi - lo) * 0.05);
    xa->setRange(0, 1);
    ya->setRange(lo - pad, hi + pad);
    for (auto* g : named) g->addToLegend(frame.legend);
    addWrappedText(plot, 2,
                   "Solid: most relevant patches removed first (MoRF); dashed: least relevant first (LeRF). ABPC = area(LeRF) − area(MoRF), "
                   "mean ± SEM over images; larger is more faithful, random is the floor." +
                       (caption.isEmpty() ? QString() : " " + caption),
                   QFont("sans", 7), QColor(70, 70, 70));
    plot.replot();
}

}  // namespace biasscope::ui
