#pragma once
// COCO polygon annotations as exported by Roboflow: images are matched by `extra.name` (the
// original file name), else by undoing Roboflow's renaming ("man3_google_jpg.rf.<hash>.jpg" ->
// "man3_google.jpg").
#include <map>
#include <string>
#include <vector>

namespace biasscope::io {

struct Polygon {
    std::vector<double> xy;  // x0, y0, x1, y1, ...
};

struct AnnotatedImage {
    std::string originalName, cocoFileName;
    int width = 0, height = 0;
    std::vector<Polygon> polygons;  // every polygon of every annotation of the image
};

struct CocoAnnotations {
    std::string source;
    std::map<std::string, AnnotatedImage> byOriginalName;
    const AnnotatedImage* find(const std::string& fileName) const;  // nullptr if the image is not listed
};

// "boy1_google_jpg.rf.0a1b.jpg" -> "boy1_google.jpg"; names without ".rf." are returned unchanged.
std::string originalNameFromRoboflow(const std::string& cocoFileName);

// Throws Error naming the file and the entry on malformed JSON.
CocoAnnotations readCocoAnnotations(const std::string& path);

}  // namespace biasscope::io
