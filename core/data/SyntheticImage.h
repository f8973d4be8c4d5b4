#pragma once
// Deterministic synthetic images (an object on a textured background) for demos and tests.
#include <cstdint>
#include <string>

#include <opencv2/core/mat.hpp>

namespace biasscope::data {

// RGB uint8 image: gradient background with stripes and a filled ellipse "object" in the middle.
cv::Mat makeSyntheticImage(int width, int height, std::uint64_t seed);

// A learnable two-class set for training tests and benchmarks: a disc whose colour is the class
// (red = class "red", blue = class "blue") at a random place on grey noise. Written as
// <root>/blue/*.<ext> and <root>/red/*.<ext> (a class-per-folder dataset). Deterministic from seed.
void writeColourDiscDataset(const std::string& root, int perClass, std::uint64_t seed, int width = 40, int height = 40, const std::string& ext = "png");

}  // namespace biasscope::data
