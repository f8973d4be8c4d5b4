#pragma once
// Export of any QCustomPlot figure for papers: PNG/TIFF at a chosen DPI, PDF and SVG with vector
// axes and text, and a sidecar JSON (<file>.json) with every setting and input hash.
#include <QJsonObject>
#include <QString>
#include <vector>

class QCustomPlot;

namespace biasscope::ui {

struct FigureExportOptions {
    double widthInches = 7.0;   // 3.5 = one column, 7.0 = two columns
    double heightInches = 4.2;
    int dpi = 300;              // raster formats
    bool transparent = false;
    double textScale = 1.0;     // text and lines relative to the page: the plot is laid out at size / scale, then drawn scaled
};

// Presets for papers: sizes of one- and two-column figures and text sizes.
struct FigurePreset {
    const char* name;
    double widthInches, heightInches;
};
const std::vector<FigurePreset>& figureSizePresets();  // one column (3.5 in), 1.5 columns (5.0 in), two columns (7.0 in), slide (10 in)
struct TextPreset {
    const char* name;
    double scale;
};
const std::vector<TextPreset>& figureTextPresets();  // paper (1.0), compact (0.8), slide (1.4)

// Format from the extension (.png, .tif/.tiff, .pdf, .svg). Throws biasscope::Error on failure.
void exportFigure(QCustomPlot& plot, const QString& path, const FigureExportOptions& options, const QJsonObject& provenance);

}  // namespace biasscope::ui
