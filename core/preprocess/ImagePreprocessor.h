#pragma once
// Preprocessing equal to Hugging Face's ViTImageProcessor: RGB, resize to size x size with PIL's
// BILINEAR filter (antialiased when shrinking, 8-bit fixed point, as Pillow's Resample.c), x/255,
// (x - mean) / std per channel.
#include <vector>

#include <ATen/core/Tensor.h>
#include <opencv2/core/mat.hpp>

#include "model/VitConfig.h"

namespace biasscope::preprocess {

// Pillow-compatible bilinear resize of an 8-bit image with 1..4 channels (bit-exact with
// PIL.Image.resize(..., Image.BILINEAR) for RGB uint8).
cv::Mat resizeBilinearPil(const cv::Mat& src, int width, int height);

// [1, 3, size, size] float32 tensor ready for the model.
at::Tensor vitPixels(const cv::Mat& rgb, const model::VitConfig& config);

}  // namespace biasscope::preprocess
