#include "figures/ConsistencyFigure.h"

#include <cmath>

#include <qcustomplot.h>

#include "figures/FigureText.h"

namespace biasscope::ui {

void buildConsistencyFigure(QCustomPlot& plot, const QString& title, const std::vector<ConsistencySeries>& series, const QString& caption) {
    plot.clearPlottables();  // graphs and anything an earlier figure left on this plot (colour maps, bars)
    plot.clearItems();
    plot.plotLayout()->clear();
    auto* rect = new QCPAxisRect(&plot);
    // titles are wrapped onto their own rows, never clipped
    addWrappedText(plot, 0, title, QFont("sans", 11, QFont::Bold));
    plot.plotLayout()->addElement(1, 0, rect);
    QFont tick("sans", 8), label("sans", 9, QFont::Bold);
    std::size_t layers = 0;
    for (std::size_t i = 0; i < series.size(); ++i) {
        const auto& s = series[i];
        QCPGraph* g = plot.addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
        QVector<double> x, y;
        for (std::size_t l = 0; l < s.percent.size(); ++l) {
            x << static_cast<double>(l);
            y << s.percent[l];
        }
        layers = std::max(layers, s.percent.size());
        g->setData(x, y);
        g->setName(s.label);
        QPen pen(s.colour, 1.6);
        if (s.dashed) pen.setStyle(Qt::DashLine);
        g->setPen(pen);
        g->setScatterStyle(QCPScatterStyle(s.squareMarker ? QCPScatterStyle::ssSquare : QCPScatterStyle::ssDisc, s.colour, s.colour, 6));
        if (s.low.size() == s.percent.size() && s.high.size() == s.percent.size() && !s.percent.empty()) {
            auto* bars = new QCPErrorBars(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
            bars->removeFromLegend();
            bars->setDataPlottable(g);
            QVector<double> minus, plus;
            for (std::size_t l = 0; l < s.percent.size(); ++l) {
                const bool ok = std::isfinite(s.low[l]) && std::isfinite(s.high[l]);
                minus << (ok ? std::max(0.0, s.percent[l] - s.low[l]) : 0.0);
                plus << (ok ? std::max(0.0, s.high[l] - s.percent[l]) : 0.0);
            }
            bars->setData(minus, plus);
            bars->setPen(QPen(s.colour, 1.0));
            bars->setWhiskerWidth(5);
        }
    }
    auto* xa = rect->axis(QCPAxis::atBottom);
    auto* ya = rect->axis(QCPAxis::atLeft);
    auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
    ticker->setTickStep(1.0);
    xa->setTicker(ticker);
    xa->setRange(-0.4, static_cast<double>(layers) - 0.6);
    ya->setRange(0, 105);
    xa->setLabel("Transformer layer");
    ya->setLabel("Consistency (%)");
    xa->setLabelFont(label);
    ya->setLabelFont(label);
    xa->setTickLabelFont(tick);
    ya->setTickLabelFont(tick);
    xa->grid()->setPen(QPen(QColor(220, 220, 220)));
    ya->grid()->setPen(QPen(QColor(220, 220, 220)));
    auto* legend = new QCPLegend;
    rect->insetLayout()->addElement(legend, Qt::AlignBottom | Qt::AlignRight);
    legend->setLayer("legend");
    legend->setFont(QFont("sans", 7));
    legend->setBrush(QColor(255, 255, 255, 220));
    legend->setFillOrder(QCPLayoutGrid::foRowsFirst);
    legend->setWrap(4);  // more than 4 curves (e.g. 4 sets x 2 sites): further columns instead of a legend taller than the plot
    for (int i = 0; i < plot.graphCount(); ++i) plot.graph(i)->addToLegend(legend);
    if (!caption.isEmpty()) {
        addWrappedText(plot, 2, caption, QFont("sans", 7), QColor(70, 70, 70));
    }
    plot.replot();
}

}  // namespace biasscope::ui
