#include "data/Raster.h"

#include <algorithm>
#include <cmath>

#include "common/Error.h"

namespace biasscope::data {

double unitUniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double uniformIn(std::mt19937_64& rng, double a, double b) { return a + (b - a) * unitUniform(rng); }

double irwinHallNormal(std::mt19937_64& rng) {
    // four uniforms: variance 4/12, scaled to 1 (sqrt is correctly rounded, so this is exact everywhere)
    static const double scale = std::sqrt(3.0);
    const double s = unitUniform(rng) + unitUniform(rng) + unitUniform(rng) + unitUniform(rng);
    return (s - 2.0) * scale;
}

std::uint8_t toByte(double v) {
    const double r = std::floor(v + 0.5);
    return static_cast<std::uint8_t>(r < 0 ? 0 : r > 255 ? 255 : r);
}

bool polygonContains(const io::Polygon& p, double px, double py) {
    const std::size_t n = p.xy.size() / 2;
    bool inside = false;
    for (std::size_t i = 0, j = n - 1; i < n; j = i++) {
        const double xi = p.xy[2 * i], yi = p.xy[2 * i + 1], xj = p.xy[2 * j], yj = p.xy[2 * j + 1];
        if ((yi <= py) != (yj <= py) && px < xi + (py - yi) * (xj - xi) / (yj - yi)) inside = !inside;
    }
    return inside;
}

cv::Mat fillPolygonsAtPixelCentres(int width, int height, const std::vector<io::Polygon>& polygons) {
    if (width <= 0 || height <= 0) throw InputError("mask size must be positive, got " + std::to_string(width) + "x" + std::to_string(height));
    cv::Mat mask = cv::Mat::zeros(height, width, CV_8U);
    for (const auto& p : polygons) {
        if (p.xy.size() < 6 || p.xy.size() % 2) throw InputError("a polygon needs at least 3 points (x, y pairs), got " + std::to_string(p.xy.size()) + " numbers");
        double x0 = p.xy[0], x1 = p.xy[0], y0 = p.xy[1], y1 = p.xy[1];
        for (std::size_t k = 0; k < p.xy.size(); k += 2) {
            x0 = std::min(x0, p.xy[k]);
            x1 = std::max(x1, p.xy[k]);
            y0 = std::min(y0, p.xy[k + 1]);
            y1 = std::max(y1, p.xy[k + 1]);
        }
        // only pixels whose centre can lie inside the bounding box
        const int cx0 = std::max(0, static_cast<int>(std::floor(x0 - 0.5))), cx1 = std::min(width - 1, static_cast<int>(std::ceil(x1)));
        const int cy0 = std::max(0, static_cast<int>(std::floor(y0 - 0.5))), cy1 = std::min(height - 1, static_cast<int>(std::ceil(y1)));
        for (int y = cy0; y <= cy1; ++y) {
            auto* row = mask.ptr<std::uint8_t>(y);
            for (int x = cx0; x <= cx1; ++x)
                if (polygonContains(p, x + 0.5, y + 0.5)) row[x] = 255;  // several polygons: their union, as COCO
        }
    }
    return mask;
}

void fillEllipseAtPixelCentres(cv::Mat& bgr, double cx, double cy, double a, double b, double angle, const cv::Vec3b& colour) {
    const double c = std::cos(angle), s = std::sin(angle), r = std::max(a, b);
    const int x0 = std::max(0, static_cast<int>(std::floor(cx - r - 1))), x1 = std::min(bgr.cols - 1, static_cast<int>(std::ceil(cx + r)));
    const int y0 = std::max(0, static_cast<int>(std::floor(cy - r - 1))), y1 = std::min(bgr.rows - 1, static_cast<int>(std::ceil(cy + r)));
    for (int y = y0; y <= y1; ++y)
        for (int x = x0; x <= x1; ++x) {
            const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            const double u = (dx * c + dy * s) / a, v = (-dx * s + dy * c) / b;
            if (u * u + v * v <= 1.0) bgr.at<cv::Vec3b>(y, x) = colour;
        }
}

}  // namespace biasscope::data
