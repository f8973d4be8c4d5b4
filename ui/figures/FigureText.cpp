#include "figures/FigureText.h"

#include <QFontMetrics>
#include <utility>
#include <qcustomplot.h>

namespace biasscope::ui {

QString wrapText(const QString& text, const QFont& font, int maxWidth) {
    const QFontMetrics fm(font);
    QStringList lines;
    for (const QString& paragraph : text.split('\n')) {
        QString line;
        for (const QString& word : paragraph.split(' ', Qt::SkipEmptyParts)) {
            const QString candidate = line.isEmpty() ? word : line + ' ' + word;
            if (!line.isEmpty() && fm.horizontalAdvance(candidate) > maxWidth) {
                lines << line;
                line = word;
            } else {
                line = candidate;
            }
        }
        lines << line;
    }
    return lines.join('\n');
}

QCPTextElement* addWrappedText(QCustomPlot& plot, int row, const QString& text, const QFont& font, const QColor& colour) {
    const int width = std::max(120, plot.width() - 16);  // layout margins
    auto* el = new QCPTextElement(&plot, wrapText(text, font, width), font);
    el->setTextColor(colour);
    plot.plotLayout()->addElement(row, 0, el);
    return el;
}

namespace {

// Clears the plot; the title in row 0; a grid in row 1 (so title and caption span the full width) with
// an axis rect in its first cell.
std::pair<QCPLayoutGrid*, QCPAxisRect*> titledBody(QCustomPlot& plot, const QString& title) {
    plot.clearPlottables();
    plot.clearItems();
    plot.plotLayout()->clear();
    addWrappedText(plot, 0, title, QFont("sans", 10, QFont::Bold));
    auto* body = new QCPLayoutGrid;
    plot.plotLayout()->addElement(1, 0, body);
    auto* rect = new QCPAxisRect(&plot);
    body->addElement(0, 0, rect);
    return {body, rect};
}

}  // namespace

HeatmapFrame addHeatmapFrame(QCustomPlot& plot, const QString& title, const QString& caption, const QString& scaleLabel) {
    const auto [body, rect] = titledBody(plot, title);
    auto* scale = new QCPColorScale(&plot);
    body->addElement(0, 1, scale);
    scale->axis()->setLabel(scaleLabel);
    scale->axis()->setTickLabelFont(QFont("sans", 7));
    scale->axis()->setLabelFont(QFont("sans", 8));
    auto* group = new QCPMarginGroup(&plot);
    rect->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    for (auto* ax : {rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft)}) {
        ax->setTickLabelFont(QFont("sans", 7));
        ax->setLabelFont(QFont("sans", 8, QFont::Bold));
        ax->grid()->setVisible(false);
    }
    if (!caption.isEmpty()) addWrappedText(plot, 2, caption, QFont("sans", 7), QColor(70, 70, 70));
    return {rect, scale};
}

SideLegendFrame addSideLegendFrame(QCustomPlot& plot, const QString& title, const QString& xLabel, const QString& yLabel) {
    const auto [body, rect] = titledBody(plot, title);
    const QFont tick("sans", 8), label("sans", 9, QFont::Bold);
    for (auto [axis, text] : {std::pair{rect->axis(QCPAxis::atBottom), xLabel}, std::pair{rect->axis(QCPAxis::atLeft), yLabel}}) {
        axis->setLabel(text);
        axis->setLabelFont(label);
        axis->setTickLabelFont(tick);
    }
    auto* legend = new QCPLegend;
    body->addElement(0, 1, legend);
    body->setColumnStretchFactor(1, 0.001);
    legend->setLayer("legend");
    legend->setFont(QFont("sans", 7));
    legend->setBorderPen(Qt::NoPen);
    return {rect, legend};
}

}  // namespace biasscope::ui
