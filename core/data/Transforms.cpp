#include "data/Transforms.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include <opencv2/imgproc.hpp>

#include "common/Error.h"
#include "preprocess/ImagePreprocessor.h"

namespace biasscope::data {

std::mt19937_64 sampleRng(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index) {
    auto mix = [](std::uint64_t z) {  // splitmix64
        z += 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    };
    return std::mt19937_64(mix(mix(mix(seed) ^ epoch) ^ index));
}

namespace {

double uniform(std::mt19937_64& rng, double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }

void toChw(const cv::Mat& f32, const TransformOptions& o, float* dst) {
    const int n = f32.rows * f32.cols;
    double mean[3] = {o.mean, o.mean, o.mean}, stdv[3] = {o.std, o.std, o.std};
    if (o.channelMean.size() == 3 && o.channelStd.size() == 3)
        for (int c = 0; c < 3; ++c) mean[c] = o.channelMean[static_cast<std::size_t>(c)], stdv[c] = o.channelStd[static_cast<std::size_t>(c)];
    for (int y = 0; y < f32.rows; ++y) {
        const float* row = f32.ptr<float>(y);
        for (int x = 0; x < f32.cols; ++x)
            for (int c = 0; c < 3; ++c) dst[c * n + y * f32.cols + x] = static_cast<float>((row[x * 3 + c] - mean[c]) / stdv[c]);
    }
}

float grayMean(const cv::Mat& img) {
    double s = 0;
    for (int y = 0; y < img.rows; ++y) {
        const float* p = img.ptr<float>(y);
        for (int x = 0; x < img.cols; ++x) s += 0.299 * p[3 * x] + 0.587 * p[3 * x + 1] + 0.114 * p[3 * x + 2];
    }
    return static_cast<float>(s / (img.rows * img.cols));
}

}  // namespace

cv::Rect randomResizedCropBox(int W, int H, const TransformOptions& o, std::mt19937_64& rng) {
    const double area = static_cast<double>(W) * H;
    const double logMin = std::log(o.ratioMin), logMax = std::log(o.ratioMax);
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double target = area * uniform(rng, o.scaleMin, o.scaleMax);
        const double aspect = std::exp(uniform(rng, logMin, logMax));
        const int w = static_cast<int>(std::lround(std::sqrt(target * aspect)));
        const int h = static_cast<int>(std::lround(std::sqrt(target / aspect)));
        if (w > 0 && w <= W && h > 0 && h <= H) {
            const int i = std::uniform_int_distribution<int>(0, H - h)(rng);
            const int j = std::uniform_int_distribution<int>(0, W - w)(rng);
            return {j, i, w, h};
        }
    }
    const double inRatio = static_cast<double>(W) / H;
    int w = W, h = H;
    if (inRatio < o.ratioMin) h = static_cast<int>(std::lround(W / o.ratioMin));
    else if (inRatio > o.ratioMax) w = static_cast<int>(std::lround(H * o.ratioMax));
    return {(W - w) / 2, (H - h) / 2, w, h};
}

void trainTransform(const cv::Mat& input, const TransformOptions& o, std::mt19937_64& rng, float* dst) {
    const cv::Mat rgb = o.squareResize ? preprocess::resizeBilinearPil(input, o.size, o.size) : input;
    const cv::Rect box = randomResizedCropBox(rgb.cols, rgb.rows, o, rng);
    cv::Mat crop;
    const bool down = box.width > o.size && box.height > o.size;
    cv::resize(rgb(box), crop, cv::Size(o.size, o.size), 0, 0, down ? cv::INTER_AREA : cv::INTER_LINEAR);
    if (uniform(rng, 0, 1) < o.flip) cv::flip(crop, crop, 1);
    cv::Mat f;
    crop.convertTo(f, CV_32FC3, 1.0 / 255.0);
    // ColorJitter: the four adjustments in a random order, each factor drawn once (torchvision)
    std::array<int, 4> order{0, 1, 2, 3};
    std::shuffle(order.begin(), order.end(), rng);
    const double b = uniform(rng, std::max(0.0, 1 - o.brightness), 1 + o.brightness);
    const double c = uniform(rng, std::max(0.0, 1 - o.contrast), 1 + o.contrast);
    const double s = uniform(rng, std::max(0.0, 1 - o.saturation), 1 + o.saturation);
    const double h = uniform(rng, -o.hue, o.hue);
    for (int op : order) {
        if (op == 0 && o.brightness > 0) {
            f *= b;
        } else if (op == 1 && o.contrast > 0) {
            const float m = grayMean(f);
            f = f * c + cv::Scalar::all((1 - c) * m);
        } else if (op == 2 && o.saturation > 0) {
            cv::Mat gray, gray3;
            cv::cvtColor(f, gray, cv::COLOR_RGB2GRAY);
            cv::cvtColor(gray, gray3, cv::COLOR_GRAY2RGB);
            f = f * s + gray3 * (1 - s);
        } else if (op == 3 && o.hue > 0) {
            cv::Mat hsv;
            cv::cvtColor(f, hsv, cv::COLOR_RGB2HSV);  // float: H in [0, 360)
            for (int y = 0; y < hsv.rows; ++y) {
                float* p = hsv.ptr<float>(y);
                for (int x = 0; x < hsv.cols; ++x) p[3 * x] = static_cast<float>(std::fmod(p[3 * x] + h * 360.0 + 360.0, 360.0));
            }
            cv::cvtColor(hsv, f, cv::COLOR_HSV2RGB);
        }
        cv::min(cv::max(f, 0.0), 1.0, f);
    }
    toChw(f, o, dst);
}

void evalTransform(const cv::Mat& rgb, const TransformOptions& o, float* dst) {
    const int shorter = o.size * 256 / 224;
    int w = rgb.cols <= rgb.rows ? shorter : static_cast<int>(static_cast<long>(shorter) * rgb.cols / rgb.rows);
    int h = rgb.cols <= rgb.rows ? static_cast<int>(static_cast<long>(shorter) * rgb.rows / rgb.cols) : shorter;
    if (o.squareResize) w = h = shorter;
    const cv::Mat resized = preprocess::resizeBilinearPil(rgb, w, h);
    // torchvision CenterCrop: int(round((w - size) / 2)), Python rounding (ties to even)
    const int left = static_cast<int>(std::nearbyint((w - o.size) / 2.0)), top = static_cast<int>(std::nearbyint((h - o.size) / 2.0));
    cv::Mat f;
    resized(cv::Rect(left, top, o.size, o.size)).convertTo(f, CV_32FC3, 1.0 / 255.0);
    toChw(f, o, dst);
}

std::int64_t nearestExactSourceIndex(std::int64_t dst, std::int64_t inSize, std::int64_t outSize) {
    const float scale = static_cast<float>(inSize) / static_cast<float>(outSize);  // ATen: compute_scales_value<float>
    // ATen: floorf((dst_index + 0.5) * scale): a double product, rounded to float by floorf's parameter
    const auto src = static_cast<std::int64_t>(std::floor(static_cast<float>((static_cast<double>(dst) + 0.5) * static_cast<double>(scale))));
    return std::min(src, inSize - 1);
}

cv::Mat resizeNearestExact(const cv::Mat& src, int width, int height) {
    if (src.empty() || width <= 0 || height <= 0) throw Error("resizeNearestExact: empty image or size " + std::to_string(width) + "x" + std::to_string(height));
    cv::Mat out(height, width, src.type());
    const std::size_t px = src.elemSize();
    std::vector<int> xs(static_cast<std::size_t>(width));
    for (int x = 0; x < width; ++x) xs[static_cast<std::size_t>(x)] = static_cast<int>(nearestExactSourceIndex(x, src.cols, width));
    for (int y = 0; y < height; ++y) {
        const auto* row = src.ptr<std::uint8_t>(static_cast<int>(nearestExactSourceIndex(y, src.rows, height)));
        auto* dst = out.ptr<std::uint8_t>(y);
        for (int x = 0; x < width; ++x) std::memcpy(dst + static_cast<std::size_t>(x) * px, row + static_cast<std::size_t>(xs[static_cast<std::size_t>(x)]) * px, px);
    }
    return out;
}

}  // namespace biasscope::data
