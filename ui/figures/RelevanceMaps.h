#pragma once
// Per-image relevance figures (reference-attnlrp.md section 7): the layer x neuron and layer x token
// maps and the input heatmap overlay, all blue-white-red centred on 0 with symmetric limits.
#include <QImage>
#include <QString>
#include <vector>

class QCustomPlot;

namespace biasscope::ui {

// Symmetric colour limit: the given percentile (0 < p <= 100) of |value| over the finite values;
// 100 = the absolute maximum. Returns 1 when every value is 0 or non-finite (all-white map).
double symmetricLimit(const float* values, std::size_t n, double percentile = 100.0);

struct LayerMap {
    int layers = 0, columns = 0;
    std::vector<float> values;  // [layers][columns], row-major
    QString columnLabel;        // "neuron" or "token (0 = CLS)"
};

// Layer 0 at the bottom; limit <= 0 means symmetricLimit(values, 100). Returns the limit used.
double buildLayerMapFigure(QCustomPlot& plot, const QString& title, const LayerMap& map, double limit, const QString& caption);

struct OverlayOptions {
    double limit = 0;  // <= 0: from the heatmap (percentile below)
    double percentile = 100.0;
    double alpha = 0.6;
    bool grayscale = true;  // image in grey so the heatmap colours stay legible
    bool smooth = false;    // bilinear upsampling of the blended map on screen (default: nearest, one block per input pixel)
};

// The heatmap (h x w) blended over `rgb` (scaled to w x h; a null image = white background), axes in
// input pixels, and a colour bar. Returns the limit used.
double buildInputOverlayFigure(QCustomPlot& plot, const QString& title, const QImage& rgb, const float* heat, int w, int h, const OverlayOptions& options,
                               const QString& caption);

}  // namespace biasscope::ui
