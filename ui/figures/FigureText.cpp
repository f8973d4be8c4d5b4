#include "figures/FigureText.h"

#include <QFontMetrics>
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

}  // namespace biasscope::ui
