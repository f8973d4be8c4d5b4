#pragma once
// Deterministic synthetic images (an object on a textured background) for demos and tests.
#include <cstdint>

#include <opencv2/core/mat.hpp>

namespace biasscope::data {

// RGB uint8 image: gradient background with stripes and a filled ellipse "object" in the middle.
cv::Mat makeSyntheticImage(int width, int height, std::uint64_t seed);

}  // namespace biasscope::data
