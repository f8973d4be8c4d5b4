#pragma once
// Image files as 8-bit RGB (OpenCV decodes BGR; we convert once here so no colour mix-ups downstream).
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace biasscope::io {

// Returns CV_8UC3 in RGB order; grey and RGBA files are converted (alpha dropped, as PIL's convert("RGB")).
// Throws Error naming the file when it is missing or cannot be decoded.
cv::Mat loadRgbImage(const std::string& path);
// cv::imread(path, flags) behind the checks OpenCV does not make: a JPEG must be complete (end-of-image
// marker after its scans; libjpeg only warns and fills the rest grey), and PNG / JPEG images above
// kMaxImagePixels are refused from their header, before decoding. Throws Error naming the file; never
// returns an empty Mat.
constexpr double kMaxImagePixels = 100e6;
cv::Mat readImageFile(const std::string& path, int flags);
void saveRgbImage(const std::string& path, const cv::Mat& rgb);  // atomic

// Image files (jpg, jpeg, png, bmp, tif, tiff, webp; any case) directly in `dir`, sorted by name.
// uniqueStems: outputs are named by stem (x.jpg -> x.png, record x): two files with one stem are refused.
std::vector<std::string> listImageFiles(const std::string& dir, bool uniqueStems = false);

}  // namespace biasscope::io
