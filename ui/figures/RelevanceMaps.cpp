#include "figures/RelevanceMaps.h"

#include <algorithm>
#include <cmath>

#include <qcustomplot.h>

#include "BwrColorMap.h"
#include "common/Error.h"
#include "figures/FigureText.h"

namespace biasscope::ui {

double symmetricLimit(const float* values, std::size_t n, double percentile) {
    std::vector<float> a;
    a.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        if (std::isfinite(values[i])) a.push_back(std::abs(values[i]));
    if (a.empty()) return 1.0;
    const double p = std::clamp(percentile, 0.0, 100.0) / 100.0;
    const std::size_t k = std::min(a.size() - 1, static_cast<std::size_t>(std::ceil(p * static_cast<double>(a.size()))) - (p > 0 ? 1 : 0));
    std::nth_element(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(k), a.end());
    const double lim = a[k];
    return lim > 0 ? lim : 1.0;
}

namespace {

HeatmapFrame frame(QCustomPlot& plot, const QString& title, const QString& caption, double limit, const QString& scaleLabel) {
    const HeatmapFrame f = addHeatmapFrame(plot, title, caption, scaleLabel);
    QCPColorGradient g;
    applyBwrGradient(g);
    g.setNanHandling(QCPColorGradient::nhTransparent);
    f.scale->setGradient(g);
    f.scale->setDataRange(QCPRange(-limit, limit));
    return f;
}

}  // namespace

double buildLayerMapFigure(QCustomPlot& plot, const QString& title, const LayerMap& m, double limit, const QString& caption) {
    if (m.layers < 1 || m.columns < 1 || m.values.size() != static_cast<std::size_t>(m.layers) * static_cast<std::size_t>(m.columns))
        throw InputError("layer map: " + std::to_string(m.values.size()) + " values do not fill " + std::to_string(m.layers) + " layers x " +
                         std::to_string(m.columns) + " columns");
    const double lim = limit > 0 ? limit : symmetricLimit(m.values.data(), m.values.size());
    const HeatmapFrame f = frame(plot, title, caption, lim, "relevance");
    auto* xa = f.rect->axis(QCPAxis::atBottom);
    auto* ya = f.rect->axis(QCPAxis::atLeft);
    auto* map = new QCPColorMap(xa, ya);
    map->setInterpolate(false);
    map->setColorScale(f.scale);
    map->setGradient(f.scale->gradient());
    map->data()->setSize(m.columns, m.layers);
    map->data()->setRange(QCPRange(0, m.columns - 1), QCPRange(0, m.layers - 1));
    for (int l = 0; l < m.layers; ++l)
        for (int c = 0; c < m.columns; ++c) map->data()->setCell(c, l, m.values[static_cast<std::size_t>(l) * static_cast<std::size_t>(m.columns) + static_cast<std::size_t>(c)]);
    map->setDataRange(QCPRange(-lim, lim));
    xa->setRange(-0.5, m.columns - 0.5);
    ya->setRange(-0.5, m.layers - 0.5);
    xa->setLabel(m.columnLabel);
    ya->setLabel("Transformer layer");
    auto columnTicker = QSharedPointer<QCPAxisTickerFixed>::create();  // whole neuron / token indices only
    double step = 1;
    for (double decade = 1; m.columns / step > 12; decade *= 10)  // 1, 2, 5, 10, 20, 50, ...
        for (double f : {1.0, 2.0, 5.0})
            if (m.columns / step > 12) step = f * decade;
    columnTicker->setTickStep(step);
    xa->setTicker(columnTicker);
    auto layerTicker = QSharedPointer<QCPAxisTickerFixed>::create();
    layerTicker->setTickStep(m.layers > 16 ? 2.0 : 1.0);
    ya->setTicker(layerTicker);
    plot.replot();
    return lim;
}

double buildInputOverlayFigure(QCustomPlot& plot, const QString& title, const QImage& rgb, const float* heat, int w, int h, const OverlayOptions& o,
                               const QString& caption) {
    if (w < 1 || h < 1) throw InputError("input heatmap is empty");
    const double lim = o.limit > 0 ? o.limit : symmetricLimit(heat, static_cast<std::size_t>(w) * static_cast<std::size_t>(h), o.percentile);
    QImage background = rgb;
    if (background.isNull()) {
        background = QImage(w, h, QImage::Format_RGB32);
        background.fill(Qt::white);
    }
    const QImage blended = overlayHeatmap(background, heat, w, h, lim, o.alpha, o.grayscale && !rgb.isNull());
    const HeatmapFrame f = frame(plot, title, caption, lim, "relevance");
    auto* xa = f.rect->axis(QCPAxis::atBottom);
    auto* ya = f.rect->axis(QCPAxis::atLeft);
    xa->setRange(0, w);
    ya->setRange(0, h);
    ya->setRangeReversed(true);  // image rows top to bottom
    xa->setLabel("x (model input pixels)");
    ya->setLabel("y");
    f.rect->setupFullAxesBox(false);
    // keep the pixel aspect ratio: the figure's plot area is wider than tall, so pad x
    auto* pix = new QCPItemPixmap(&plot);
    pix->setClipAxisRect(f.rect);
    pix->topLeft->setAxes(xa, ya);
    pix->bottomRight->setAxes(xa, ya);
    pix->topLeft->setCoords(0, 0);
    pix->bottomRight->setCoords(w, h);
    pix->setScaled(true, Qt::IgnoreAspectRatio, o.smooth ? Qt::SmoothTransformation : Qt::FastTransformation);  // nearest: one model-input pixel = one block
    pix->setPixmap(QPixmap::fromImage(blended));
    // square input pixels at whatever size the figure is drawn (screen, PNG at any DPI, PDF, SVG):
    // the x range follows the laid-out axis rect; the connection ends with the rect
    QObject::connect(&plot, &QCustomPlot::afterLayout, f.rect, [xa, ya]() { xa->setScaleRatio(ya, 1.0); });
    plot.replot();
    return lim;
}

}  // namespace biasscope::ui
