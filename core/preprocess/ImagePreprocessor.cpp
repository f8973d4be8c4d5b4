#include "preprocess/ImagePreprocessor.h"

#include <algorithm>
#include <cmath>

#include <torch/types.h>

#include "common/Error.h"

namespace biasscope::preprocess {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's 8-bit resampling precision

double bilinearFilter(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

struct Coefficients {
    int kernelSize = 0;
    std::vector<int> bounds;   // per output: first input index, count
    std::vector<int> weights;  // fixed point, kernelSize per output
};

// Pillow precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter, support 1.
Coefficients computeCoefficients(int inSize, int outSize) {
    const double scale = static_cast<double>(inSize) / outSize;
    const double filterScale = std::max(scale, 1.0);
    const double support = 1.0 * filterScale;
    Coefficients c;
    c.kernelSize = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.bounds.resize(static_cast<std::size_t>(outSize) * 2);
    c.weights.assign(static_cast<std::size_t>(outSize) * c.kernelSize, 0);
    std::vector<double> k(static_cast<std::size_t>(c.kernelSize));
    for (int xx = 0; xx < outSize; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filterScale;
        int xmin = static_cast<int>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = static_cast<int>(center + support + 0.5);
        if (xmax > inSize) xmax = inSize;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            const double w = bilinearFilter((x + xmin - center + 0.5) * ss);
            k[static_cast<std::size_t>(x)] = w;
            ww += w;
        }
        for (int x = 0; x < c.kernelSize; ++x) {
            const double w = x < xmax && ww != 0.0 ? k[static_cast<std::size_t>(x)] / ww : 0.0;
            c.weights[static_cast<std::size_t>(xx) * c.kernelSize + x] =
                static_cast<int>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
        }
        c.bounds[static_cast<std::size_t>(xx) * 2] = xmin;
        c.bounds[static_cast<std::size_t>(xx) * 2 + 1] = xmax;
    }
    return c;
}

inline std::uint8_t clip8(long long v) {
    v >>= kPrecisionBits;
    return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace

cv::Mat resizeBilinearPil(const cv::Mat& src, int width, int height) {
    if (src.empty() || src.depth() != CV_8U) throw InputError("resize needs a non-empty 8-bit image");
    if (width <= 0 || height <= 0) throw InputError("resize target must be positive");
    const int ch = src.channels();
    cv::Mat horiz = src;
    if (width != src.cols) {  // horizontal pass
        const Coefficients c = computeCoefficients(src.cols, width);
        horiz = cv::Mat(src.rows, width, src.type());
        for (int y = 0; y < src.rows; ++y) {
            const std::uint8_t* in = src.ptr<std::uint8_t>(y);
            std::uint8_t* out = horiz.ptr<std::uint8_t>(y);
            for (int xx = 0; xx < width; ++xx) {
                const int xmin = c.bounds[static_cast<std::size_t>(xx) * 2], xmax = c.bounds[static_cast<std::size_t>(xx) * 2 + 1];
                const int* k = &c.weights[static_cast<std::size_t>(xx) * c.kernelSize];
                for (int b = 0; b < ch; ++b) {
                    long long ss = 1LL << (kPrecisionBits - 1);
                    for (int x = 0; x < xmax; ++x) ss += static_cast<long long>(in[(x + xmin) * ch + b]) * k[x];
                    out[xx * ch + b] = clip8(ss);
                }
            }
        }
    }
    if (height == horiz.rows) return horiz.clone();
    const Coefficients c = computeCoefficients(horiz.rows, height);  // vertical pass
    cv::Mat out(height, width, src.type());
    for (int yy = 0; yy < height; ++yy) {
        const int ymin = c.bounds[static_cast<std::size_t>(yy) * 2], ymax = c.bounds[static_cast<std::size_t>(yy) * 2 + 1];
        const int* k = &c.weights[static_cast<std::size_t>(yy) * c.kernelSize];
        std::uint8_t* o = out.ptr<std::uint8_t>(yy);
        for (int xx = 0; xx < width * ch; ++xx) {
            long long ss = 1LL << (kPrecisionBits - 1);
            for (int y = 0; y < ymax; ++y) ss += static_cast<long long>(horiz.ptr<std::uint8_t>(y + ymin)[xx]) * k[y];
            o[xx] = clip8(ss);
        }
    }
    return out;
}

at::Tensor vitPixels(const cv::Mat& rgb, const model::VitConfig& config) {
    if (rgb.empty() || rgb.type() != CV_8UC3) throw InputError("preprocessing needs an 8-bit RGB image");
    const int size = static_cast<int>(config.imageSize);
    const cv::Mat resized = resizeBilinearPil(rgb, size, size);
    at::Tensor t = torch::from_blob(const_cast<std::uint8_t*>(resized.ptr<std::uint8_t>()), {size, size, 3}, torch::kUInt8)
                       .to(torch::kFloat64)
                       .permute({2, 0, 1})
                       .unsqueeze(0);
    t = (t * (1.0 / 255.0)).to(torch::kFloat32);  // HF: rescale in float64, cast to float32, then normalise
    const at::Tensor mean = torch::tensor(config.imageMean, torch::kFloat64).to(torch::kFloat32).reshape({1, 3, 1, 1});
    const at::Tensor stdv = torch::tensor(config.imageStd, torch::kFloat64).to(torch::kFloat32).reshape({1, 3, 1, 1});
    return ((t - mean) / stdv).contiguous();
}

}  // namespace biasscope::preprocess
