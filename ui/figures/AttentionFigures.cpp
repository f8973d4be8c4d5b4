#include "figures/AttentionFigures.h"

#include <cmath>
#include <map>

#include <qcustomplot.h>

#include "figures/FigureText.h"

#include <algorithm>

namespace biasscope::ui {

const std::vector<QColor>& studyPalette() {
    static const std::vector<QColor> p{QColor("#8ecae6"), QColor("#219ebc"), QColor("#023047"), QColor("#ffb703"), QColor("#fb8500"),
                                       QColor("#e63946"), QColor("#a8dadc"), QColor("#457b9d"), QColor("#8d99ae"), QColor("#00a896"),
                                       QColor("#f15bb5"), QColor("#e0aaff"), QColor("#ca6702"), QColor("#ffc8dd")};
    return p;
}

QColor partColour(const QString& part, int fallbackIndex) {
    // published part colours (index into the palette); the two Waterbirds parts take hair's and nose's
    static const std::map<QString, int> index{{"hair", 7},  {"eyebrows", 11}, {"eyes", 9},     {"eyeglasses", 8}, {"ears", 13},      {"nose", 4},
                                              {"mouth", 0}, {"earrings", 1},  {"necklace", 5}, {"hat", 3},        {"background", 9}, {"bird", 4}};
    const auto it = index.find(part.toLower());
    const auto& p = studyPalette();
    return it != index.end() ? p[static_cast<std::size_t>(it->second)] : p[static_cast<std::size_t>(fallbackIndex) % p.size()];
}

void applyMagmaGradient(QCPColorGradient& g) {
    // matplotlib's magma at nine evenly spaced points
    static const char* stops[] = {"#000004", "#1c1044", "#4f127b", "#812581", "#b5367a", "#e55064", "#fb8761", "#fec287", "#fcfdbf"};
    g.clearColorStops();
    for (int i = 0; i < 9; ++i) g.setColorStopAt(i / 8.0, QColor(stops[i]));
    g.setColorInterpolation(QCPColorGradient::ciRGB);
}

namespace {

// title (row 0) and an axis rect (row 1; with a colour scale beside it in its own grid, so title and
// caption span the full width)
QCPAxisRect* frame(QCustomPlot& plot, const QString& title, QCPColorScale** scale = nullptr) {
    plot.clearGraphs();
    plot.clearItems();
    plot.clearPlottables();
    plot.plotLayout()->clear();
    addWrappedText(plot, 0, title, QFont("sans", 11, QFont::Bold));
    auto* rect = new QCPAxisRect(&plot);
    if (scale) {
        auto* body = new QCPLayoutGrid;
        plot.plotLayout()->addElement(1, 0, body);
        body->addElement(0, 0, rect);
        *scale = new QCPColorScale(&plot);
        body->addElement(0, 1, *scale);
    } else {
        plot.plotLayout()->addElement(1, 0, rect);
    }
    QFont tick("sans", 8), label("sans", 9, QFont::Bold);
    for (auto* a : {rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft)}) {
        a->setLabelFont(label);
        a->setTickLabelFont(tick);
        a->grid()->setPen(QPen(QColor(225, 225, 225)));
    }
    return rect;
}

QCPLegend* legendIn(QCPAxisRect* rect, Qt::Alignment where) {
    auto* legend = new QCPLegend;
    rect->insetLayout()->addElement(legend, where);
    legend->setLayer("legend");
    legend->setFont(QFont("sans", 7));
    legend->setBrush(QColor(255, 255, 255, 220));
    return legend;
}

}  // namespace

void buildMaskBarsFigure(QCustomPlot& plot, const QString& title, const std::vector<QString>& segments, const std::vector<StackedBar>& bars, const QString& caption) {
    QCPAxisRect* rect = frame(plot, title);
    auto* keyAxis = rect->axis(QCPAxis::atLeft);
    auto* valueAxis = rect->axis(QCPAxis::atBottom);
    auto* legend = legendIn(rect, Qt::AlignBottom | Qt::AlignRight);
    QCPBars* below = nullptr;
    double maxTotal = 0;
    for (const auto& b : bars) {
        double t = 0;
        for (std::size_t s = 0; s < b.values.size(); ++s) t += std::isnan(b.values[s]) ? 0 : b.values[s];
        if (!b.errors.empty() && !std::isnan(b.errors.back())) t += b.errors.back();
        maxTotal = std::max(maxTotal, t);
    }
    for (std::size_t s = 0; s < segments.size(); ++s) {
        auto* bar = new QCPBars(keyAxis, valueAxis);
        bar->setName(segments[s]);
        const QColor c = partColour(segments[s], static_cast<int>(s));
        bar->setBrush(c);
        bar->setPen(QPen(c.darker(130), 0.8));
        bar->setWidth(0.6);
        QVector<double> keys, values, errors;
        for (std::size_t i = 0; i < bars.size(); ++i) {
            keys << static_cast<double>(bars.size() - 1 - i);  // first bar at the top
            const double v = s < bars[i].values.size() ? bars[i].values[s] : 0;
            values << (std::isnan(v) ? 0 : v);
            const double e = s < bars[i].errors.size() ? bars[i].errors[s] : 0;
            errors << (std::isnan(e) ? 0 : e);
        }
        bar->setData(keys, values);
        if (below) bar->moveAbove(below);
        below = bar;
        auto* err = new QCPErrorBars(keyAxis, valueAxis);
        err->removeFromLegend();
        err->setDataPlottable(bar);
        err->setErrorType(QCPErrorBars::etValueError);
        err->setData(errors);
        err->setPen(QPen(QColor(40, 40, 40), 1));
        err->setWhiskerWidth(5);
        bar->addToLegend(legend);
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (std::size_t i = 0; i < bars.size(); ++i) ticker->addTick(static_cast<double>(bars.size() - 1 - i), bars[i].label);
    keyAxis->setTicker(ticker);
    keyAxis->setRange(-0.6, static_cast<double>(bars.size()) - 0.4);
    keyAxis->grid()->setVisible(false);
    valueAxis->setLabel("Mask Score");
    valueAxis->setRange(0, std::max(1.0, maxTotal * 1.15));
    if (!caption.isEmpty()) addWrappedText(plot, 2, caption, QFont("sans", 7), QColor(70, 70, 70));
    plot.replot();
}

void buildScoreCurveFigure(QCustomPlot& plot, const QString& title, const std::vector<CurveSeries>& series, const QString& xLabel, const QString& yLabel,
                           const QString& caption) {
    QCPAxisRect* rect = frame(plot, title);
    auto* xa = rect->axis(QCPAxis::atBottom);
    auto* ya = rect->axis(QCPAxis::atLeft);
    auto* legend = legendIn(rect, Qt::AlignTop | Qt::AlignLeft);
    double lo = 1e300, hi = -1e300;
    for (const auto& s : series) {
        auto* g = plot.addGraph(xa, ya);
        QVector<double> x(s.x.begin(), s.x.end()), y(s.y.begin(), s.y.end()), e(s.err.begin(), s.err.end());
        g->setData(x, y);
        g->setName(s.label);
        g->setPen(QPen(s.colour, 1.8));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, s.colour, s.colour, 7));
        g->addToLegend(legend);
        if (!e.isEmpty()) {
            auto* err = new QCPErrorBars(xa, ya);
            err->removeFromLegend();
            err->setDataPlottable(g);
            err->setData(e);
            err->setPen(QPen(s.colour.darker(120), 1));
        }
        for (double v : s.x) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    if (lo > hi) lo = 0, hi = 1;
    const double pad = std::max(0.02, (hi - lo) * 0.08);
    xa->setRange(lo - pad, hi + pad);
    xa->setLabel(xLabel);
    ya->setLabel(yLabel);
    ya->setRange(0, 1);
    if (!caption.isEmpty()) addWrappedText(plot, 2, caption, QFont("sans", 7), QColor(70, 70, 70));
    plot.replot();
}

void buildScoreScatterFigure(QCustomPlot& plot, const QString& title, const std::vector<ScatterPoint>& points, const QString& xLabel, const QString& yLabel,
                             const QString& colourLabel, const QString& caption) {
    QCPColorScale* scale = nullptr;
    QCPAxisRect* rect = frame(plot, title, &scale);
    auto* xa = rect->axis(QCPAxis::atBottom);
    auto* ya = rect->axis(QCPAxis::atLeft);
    scale->setType(QCPAxis::atRight);
    scale->axis()->setLabel(colourLabel);
    scale->axis()->setLabelFont(QFont("sans", 8, QFont::Bold));
    scale->axis()->setTickLabelFont(QFont("sans", 7));
    QCPColorGradient magma;
    applyMagmaGradient(magma);
    scale->setGradient(magma);
    double cLo = 1e300, cHi = -1e300, yLo = 1e300, yHi = -1e300;
    for (const auto& p : points) {
        cLo = std::min(cLo, p.colourValue), cHi = std::max(cHi, p.colourValue);
        yLo = std::min(yLo, p.y - p.yErr), yHi = std::max(yHi, p.y + p.yErr);
    }
    if (cLo >= cHi) cLo = std::min(cLo, 0.0), cHi = std::max(cHi, cLo + 1);
    const QCPRange cRange(cLo, cHi);
    scale->setDataRange(cRange);
    auto* group = new QCPMarginGroup(&plot);
    rect->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
    for (const auto& p : points) {
        const QColor c = QColor::fromRgb(magma.color(p.colourValue, cRange));
        auto* g = plot.addGraph(xa, ya);
        g->setData(QVector<double>{p.x}, QVector<double>{p.y});
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(30, 30, 30), c, 8));
        g->setName(p.label);
        for (auto type : {QCPErrorBars::etKeyError, QCPErrorBars::etValueError}) {
            auto* err = new QCPErrorBars(xa, ya);
            err->setDataPlottable(g);
            err->setErrorType(type);
            err->setData(QVector<double>{type == QCPErrorBars::etKeyError ? p.xErr : p.yErr});
            err->setPen(QPen(QColor(120, 120, 120), 0.9));
            err->setWhiskerWidth(4);
        }
        if (p.annotate) {
            auto* t = new QCPItemText(&plot);
            t->setClipAxisRect(rect);
            t->position->setAxes(xa, ya);
            t->position->setCoords(p.x, p.y);
            t->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
            t->setPadding(QMargins(5, 0, 0, 3));
            t->setText(QString(p.label).replace('_', ' '));
            t->setFont(QFont("sans", 7));
        }
    }
    xa->setRange(-0.02, 1.02);  // published
    xa->setLabel(xLabel);
    ya->setLabel(yLabel);
    if (yLo <= yHi) {
        const double pad = std::max(0.02, (yHi - yLo) * 0.1);
        ya->setRange(std::max(0.0, yLo - pad), std::min(1.0, yHi + pad));
    }
    if (!caption.isEmpty()) addWrappedText(plot, 2, caption, QFont("sans", 7), QColor(70, 70, 70));
    plot.replot();
}

namespace {
QString meanStd(double m, double s) {
    if (std::isnan(m)) return "n/a";
    return QString::number(m, 'f', 3) + " ± " + QString::number(std::isnan(s) ? 0.0 : s, 'f', 3);
}
}  // namespace

void buildAttentionFigure(QCustomPlot& plot, AttentionFigure kind, const std::vector<attention::ScoreSummary>& results_) {
    if (kind == AttentionFigure::MaskBars) {
        std::vector<StackedBar> bars;
        std::vector<QString> segments;
        StackedBar uniformBar;
        std::vector<const attention::ScoreSummary*> order;
        for (const auto& s : results_)
            if (s.score == "mask") order.push_back(&s);
        // Waterbirds as published: the lowest bias on top
        std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
            return a->dataset == "waterbirds" && b->dataset == "waterbirds" && a->trainAgreement < b->trainAgreement;
        });
        int skipped = 0;
        for (const auto* ps : order) {
            const auto& s = *ps;
            if (s.columns != order.front()->columns) {  // one figure, one set of parts (the first mask result's)
                ++skipped;
                continue;
            }
            // published order: Waterbirds bird then background; CelebA parts in column order
            std::vector<std::size_t> columns;
            for (std::size_t c = 0; c < s.columns.size(); ++c) columns.push_back(c);
            if (s.dataset == "waterbirds") std::reverse(columns.begin(), columns.end());
            if (segments.empty())
                for (auto c : columns) segments.push_back(QString::fromStdString(s.columns[c]));
            StackedBar b;
            b.label = s.dataset == "waterbirds" ? (std::isnan(s.trainAgreement) ? QString("Waterbirds") : QString("%1% bias").arg(std::lround(s.trainAgreement * 100)))
                                                : QString::fromStdString(s.attribute);
            if (s.worstGroupAccuracy) b.label += QString("\nWGA %1").arg(meanStd(s.worstGroupAccuracy->first, s.worstGroupAccuracy->second));
            for (auto c : columns) b.values.push_back(s.mean.back()[c]), b.errors.push_back(s.std.back()[c]);
            bars.push_back(b);
            if (!s.uniform.empty() && uniformBar.values.empty()) {
                uniformBar.label = "Uniform map";
                for (auto c : columns) uniformBar.values.push_back(s.uniform.back()[c]), uniformBar.errors.push_back(0);
            }
        }
        if (!uniformBar.values.empty()) bars.push_back(uniformBar);
        buildMaskBarsFigure(plot, bars.empty() ? "Mask scores (no mask results loaded)" : "Mask scores (\"all\" row, mean ± std over models)", segments, bars,
                            QString("Bars are labelled from the data. Uniform map: the true uniform-attention baseline (the published row is one model's GradCAM scores).") +
                                (skipped ? QString(" %1 result(s) with other mask parts not drawn.").arg(skipped) : QString()));
    } else if (kind == AttentionFigure::ScoreVsBias) {
        std::vector<std::pair<double, const attention::ScoreSummary*>> pts;
        for (const auto& s : results_)
            if (s.score == "mask" && s.dataset == "waterbirds" && !std::isnan(s.trainAgreement)) pts.emplace_back(s.trainAgreement, &s);
        std::sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<CurveSeries> series;
        if (!pts.empty()) {
            for (std::size_t c = 0; c < pts.front().second->columns.size(); ++c) {
                CurveSeries cs;
                cs.label = QString::fromStdString(pts.front().second->columns[c]);
                cs.colour = partColour(cs.label, static_cast<int>(c));
                for (const auto& [bias, s] : pts) cs.x.push_back(bias), cs.y.push_back(s->mean.back()[c]), cs.err.push_back(s->std.back()[c]);
                series.push_back(cs);
            }
        }
        buildScoreCurveFigure(plot, "Waterbirds: mask score vs training bias", series, "Training bias P (place agrees with the class)", "Mask score (all)",
                              pts.size() < 2 ? "Load mask results of at least two bias levels." : "Mean ± population std over models.");
    } else {
        std::vector<ScatterPoint> pts;
        int undefinedScores = 0;
        for (const auto& s : results_) {
            if (s.score != "heatmap" || !s.mcc) continue;
            if (std::isnan(s.mean.back()[0])) {
                ++undefinedScores;  // every map was all-zero or constant
                continue;
            }
            ScatterPoint p;
            p.label = QString::fromStdString(s.attribute);
            p.x = std::abs(s.mcc->first);
            p.xErr = s.mcc->second;
            p.y = s.mean.back()[0];
            p.yErr = s.std.back()[0];
            p.colourValue = s.worstGroupAccuracy ? s.worstGroupAccuracy->first : 0;
            p.annotate = true;
            pts.push_back(p);
        }
        buildScoreScatterFigure(plot, "Heatmap score vs |MCC| with the confounder", pts, "Absolute Matthews Correlation Coefficient w/ Male", "Heatmap Score",
                                "Worst-group accuracy",
                                (pts.empty() ? QString("Load heatmap results whose folder also holds the evaluation (aiou evaluate).") : QString("Mean ± population std over models.")) +
                                    (undefinedScores ? QString(" %1 result(s) left out: no map carried a location (score undefined).").arg(undefinedScores) : QString()));
    }
}

}  // namespace biasscope::ui
