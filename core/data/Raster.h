#pragma once
// Rasterisation and noise of the planted-bias benchmark by rules of our own, so that its images and masks
// are the same bytes with every OpenCV and C++ library version (cv::fillPoly, cv::ellipse and anti-aliased
// cv::line changed between OpenCV 4.6 and 4.10; std::uniform_real_distribution and std::normal_distribution
// are implementation-defined). Coordinates are continuous, as in COCO: pixel (x, y) covers
// [x, x + 1) x [y, y + 1), and a shape covers the pixel iff it contains the pixel's centre (x + 0.5, y + 0.5).
// Polygons use the even-odd rule with half-open edges (PNPOLY): a centre exactly on an edge belongs to the
// pixel on one side only, so two polygons sharing an edge never both cover a pixel.
#include <cstdint>
#include <random>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "io/CocoAnnotations.h"

namespace biasscope::data {

// Uniform in [0, 1) from the top 53 bits of one draw (exactly reproducible).
double unitUniform(std::mt19937_64& rng);
double uniformIn(std::mt19937_64& rng, double a, double b);
// Approximately standard normal: the Irwin-Hall sum of 4 uniforms, centred and scaled to variance 1
// (|z| <= 2 sqrt 3). Plain arithmetic only, so no libm rounding enters the data.
double irwinHallNormal(std::mt19937_64& rng);

// True iff (px, py) lies inside the polygon (even-odd rule, half-open edges).
bool polygonContains(const io::Polygon& polygon, double px, double py);
// 0/255 CV_8U mask: the pixels whose centre one of the polygons contains.
cv::Mat fillPolygonsAtPixelCentres(int width, int height, const std::vector<io::Polygon>& polygons);
// Fills, in `bgr` (CV_8UC3), the pixels whose centre lies in the ellipse (centre cx, cy; semi-axes a, b;
// rotated by `angle` radians).
void fillEllipseAtPixelCentres(cv::Mat& bgr, double cx, double cy, double a, double b, double angle, const cv::Vec3b& colour);
// A 1-pixel-wide anti-aliased curve y = yAt(x + 0.5) per column: each pixel is blended with `colour` by
// max(0, 1 - |pixel centre - curve|).
template <typename F>
void drawCurveByColumns(cv::Mat& bgr, F yAt, const cv::Vec3b& colour);
// Rounds to the nearest integer (halves up) and clamps to [0, 255].
std::uint8_t toByte(double v);

template <typename F>
void drawCurveByColumns(cv::Mat& bgr, F yAt, const cv::Vec3b& colour) {
    for (int x = 0; x < bgr.cols; ++x) {
        const double yc = yAt(x + 0.5);
        const int y0 = static_cast<int>(yc - 1.5), y1 = static_cast<int>(yc + 1.5);
        for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < bgr.rows; ++y) {
            const double d = y + 0.5 - yc, w = 1.0 - (d < 0 ? -d : d);
            if (w <= 0) continue;
            auto& p = bgr.at<cv::Vec3b>(y, x);
            for (int c = 0; c < 3; ++c) p[c] = toByte(p[c] * (1 - w) + colour[c] * w);
        }
    }
}

}  // namespace biasscope::data
