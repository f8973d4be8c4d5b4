#pragma once
// Face feathering (method.md section 3): fill the face polygons into a mask, Gaussian-blur it
// (odd kernel, sigma from the kernel as OpenCV does for sigma 0), use it as alpha over a background.
// With the defaults this is the published notebook's algorithm.
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "common/JobControl.h"
#include "io/CocoAnnotations.h"

namespace biasscope::preprocess {

enum class FeatherBackground { White, Black, Gray, Mean, Blur };
FeatherBackground parseFeatherBackground(const std::string& s);

struct FeatheringOptions {
    int kernel = 21;  // odd
    FeatherBackground background = FeatherBackground::White;
    bool hard = false;             // unblurred mask (the notebook's earlier "masked_" images)
    bool keepUnannotated = false;  // write unannotated images unchanged instead of leaving them out
};

// Binary mask (0/255, CV_8U) of the polygons, rasterised as cv2.fillPoly with int32 (truncated) points.
cv::Mat polygonMask(int width, int height, const std::vector<io::Polygon>& polygons);

// Feathers an 8-bit 3-channel image with a 0/255 mask; output truncated to uint8 as the notebook.
cv::Mat featherImage(const cv::Mat& image, const cv::Mat& mask, const FeatheringOptions& options);

struct FeatheringReport {
    std::vector<std::string> written;                            // output files
    std::vector<std::string> skippedUnannotated;                 // image files without annotation
    std::vector<std::pair<std::string, std::string>> failures;   // image file, reason
    std::vector<std::string> keptUnannotated;
};

// Feathers every image of `imagesDir` with COCO polygons (or, when `masksDir` is given instead of an
// annotation file, with binary mask images named <stem>.png), writing <stem>.png into outDir
// atomically. A bad image is reported and skipped; nothing already written is lost.
FeatheringReport featherDirectory(const std::string& imagesDir, const std::string& annotationsPath, const std::string& masksDir,
                                  const std::string& outDir, const FeatheringOptions& options, const JobControl& job = {});

}  // namespace biasscope::preprocess
