#pragma once
// Training and evaluation transforms of the published recipe (method.md section 5), on OpenCV
// images, seeded per sample so a run is reproducible regardless of thread scheduling:
//   train: RandomResizedCrop(size, scale, ratio) -> horizontal flip -> ColorJitter -> normalise
//   eval:  resize shorter side to size * 256 / 224 (PIL bilinear) -> centre crop size -> normalise
#include <cstdint>
#include <random>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace biasscope::data {

struct TransformOptions {
    int size = 224;
    double scaleMin = 0.8, scaleMax = 1.0;  // RandomResizedCrop area fraction (published 0.8-1.0)
    double ratioMin = 0.9, ratioMax = 1.1;  // aspect ratio (published 0.9-1.1)
    double flip = 0.5;
    double brightness = 0.2, contrast = 0.2, saturation = 0.2, hue = 0.05;
    double mean = 0.5, std = 0.5;  // per channel, as published
    std::vector<double> channelMean, channelStd;  // when set (3 values): per-channel normalisation (ImageNet for study 2)
    // Study 2 (Attention-IoU): eval resizes to (R, R) ignoring the aspect ratio, R = size * 256 / 224;
    // train resizes to (size, size) before the RandomResizedCrop.
    bool squareResize = false;
};

// Per-sample generator from (seed, epoch, index): independent of batch order and thread.
std::mt19937_64 sampleRng(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index);

// The crop box torchvision's RandomResizedCrop.get_params picks (10 tries, then a centre crop).
cv::Rect randomResizedCropBox(int width, int height, const TransformOptions& o, std::mt19937_64& rng);

// RGB uint8 in, float32 CHW normalised out (3 x size x size, contiguous) written to `dst`.
void trainTransform(const cv::Mat& rgb, const TransformOptions& o, std::mt19937_64& rng, float* dst);
void evalTransform(const cv::Mat& rgb, const TransformOptions& o, float* dst);

// torch.nn.functional.interpolate(mode="nearest-exact") (what torchvision's NEAREST_EXACT resize runs): the
// source index of output index `dst`, computed as ATen does, in float: min(floorf((dst + 0.5) * (float)in / out),
// in - 1). OpenCV's INTER_NEAREST_EXACT differs (for a 2x downscale it takes 2i, torch and PIL 2i + 1: OpenCV
// issue #22204; and at float ties, e.g. 64 -> 73).
std::int64_t nearestExactSourceIndex(std::int64_t dst, std::int64_t inSize, std::int64_t outSize);
// Resizes any cv::Mat (every channel and depth) to width x height with nearestExactSourceIndex on both axes.
cv::Mat resizeNearestExact(const cv::Mat& src, int width, int height);

}  // namespace biasscope::data
