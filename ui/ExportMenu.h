#pragma once
// Export of any plot for papers, from its context menu (right click) or a button:
//   "Export figure…": PDF / SVG / PNG / TIFF with a size preset (one or two columns, slide or custom),
//     DPI, text preset and transparent background, plus the <file>.json sidecar;
//   "Export data…": the numbers behind the plot: colour maps as a CSV matrix and a safetensors
//     array, graphs and bars as long CSV (series, x, y), with a <file>.json sidecar.
// The dialog remembers the last settings (QSettings).
#include <QJsonObject>
#include <QString>
#include <functional>

class QCustomPlot;
class QWidget;

namespace biasscope::ui {

struct FigureExportOptions;

// Asks for a file and the settings; false if cancelled.
bool askFigureExport(QWidget* parent, const QString& suggestedName, QString& path, FigureExportOptions& options);

// The numbers behind the plot (every colour map, graph and bar chart); the format from the extension
// (.csv, or .safetensors for colour maps). Throws biasscope::Error naming the file.
void exportPlotData(QCustomPlot& plot, const QString& path, const QJsonObject& provenance);

// Adds the context menu to `plot`; `provenance` is called at export time (settings, inputs).
void installExportMenu(QCustomPlot* plot, const QString& name, std::function<QJsonObject()> provenance);

}  // namespace biasscope::ui
