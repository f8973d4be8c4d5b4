#include "BwrColorMap.h"

#include <algorithm>
#include <cmath>

#include <qcustomplot.h>

namespace biasscope::ui {

QColor bwrColor(double t) {
    const int u = std::clamp(static_cast<int>((std::clamp(t, -1.0, 1.0) + 1.0) / 2.0 * 255.0), 0, 255);
    if (u <= 128) {
        const int v = u * 255 / 128;
        return QColor(v, v, 255);
    }
    const int v = (255 - u) * 255 / 127;
    return QColor(255, v, v);
}

void applyBwrGradient(QCPColorGradient& gradient) {
    gradient.clearColorStops();
    for (int i = 0; i <= 16; ++i) {
        const double pos = i / 16.0;
        gradient.setColorStopAt(pos, bwrColor(pos * 2.0 - 1.0));
    }
    gradient.setColorInterpolation(QCPColorGradient::ciRGB);
}

QImage overlayHeatmap(const QImage& rgb, const float* heat, int w, int h, double limit, double alpha, bool grayscale) {
    QImage base = rgb.scaled(w, h, Qt::IgnoreAspectRatio, Qt::SmoothTransformation).convertToFormat(QImage::Format_RGB32);
    QImage out(w, h, QImage::Format_RGB32);
    const double lim = limit > 0 ? limit : 1.0;
    for (int y = 0; y < h; ++y) {
        const QRgb* src = reinterpret_cast<const QRgb*>(base.constScanLine(y));
        QRgb* dst = reinterpret_cast<QRgb*>(out.scanLine(y));
        for (int x = 0; x < w; ++x) {
            int r = qRed(src[x]), g = qGreen(src[x]), b = qBlue(src[x]);
            if (grayscale) r = g = b = qGray(src[x]);
            const float v = heat[y * w + x];
            const QColor c = bwrColor(std::isfinite(v) ? v / lim : 0.0);
            dst[x] = qRgb(static_cast<int>(r * (1 - alpha) + c.red() * alpha), static_cast<int>(g * (1 - alpha) + c.green() * alpha),
                          static_cast<int>(b * (1 - alpha) + c.blue() * alpha));
        }
    }
    return out;
}

}  // namespace biasscope::ui
