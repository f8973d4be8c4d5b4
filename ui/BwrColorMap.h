#pragma once
// The diverging blue-white-red map of zennit/LXT heatmaps (reference-attnlrp.md section 7), centred
// on zero with symmetric limits, and the overlay of a heatmap on its image.
#include <QColor>
#include <QImage>

class QCPColorGradient;

namespace biasscope::ui {

// t in [-1, 1] -> zennit 'bwr' palette entry (blue at -1, white at 0, red at +1)
QColor bwrColor(double t);
void applyBwrGradient(QCPColorGradient& gradient);

// Blends `heat` (row-major h x w) over `rgb` (scaled to w x h) with opacity `alpha`, values mapped with
// symmetric limits [-limit, limit]. With `grayscale` the image is shown in grey so colours stay legible.
QImage overlayHeatmap(const QImage& rgb, const float* heat, int w, int h, double limit, double alpha, bool grayscale);

}  // namespace biasscope::ui
