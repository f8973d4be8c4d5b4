#pragma once
// Export of any QCustomPlot figure for papers: PNG/TIFF at a chosen DPI, PDF and SVG with vector
// axes and text, and a sidecar JSON (<file>.json) with every setting and input hash.
#include <QJsonObject>
#include <QString>

class QCustomPlot;

namespace biasscope::ui {

struct FigureExportOptions {
    double widthInches = 7.0;   // 3.5 = one column, 7.0 = two columns
    double heightInches = 4.2;
    int dpi = 300;              // raster formats
    bool transparent = false;
};

// Format from the extension (.png, .tif/.tiff, .pdf, .svg). Throws biasscope::Error on failure.
void exportFigure(QCustomPlot& plot, const QString& path, const FigureExportOptions& options, const QJsonObject& provenance);

}  // namespace biasscope::ui
