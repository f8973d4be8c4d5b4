// Feathering throughput on the shared IEAT images (or any COCO set): images/s of the whole pipeline
// (decode, mask, blur, blend, PNG encode) against a baseline in the same run: decode + PNG encode alone.
//   bench_feathering IMAGES_DIR ANNOTATIONS.json
#include <chrono>
#include <filesystem>
#include <iostream>

#include <opencv2/imgcodecs.hpp>

#include "io/CocoAnnotations.h"
#include "io/ImageIO.h"
#include "preprocess/Feathering.h"

using namespace biasscope;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: bench_feathering IMAGES_DIR ANNOTATIONS.json\n";
        return 2;
    }
    const auto coco = io::readCocoAnnotations(argv[2]);
    std::vector<std::string> files;
    for (const auto& f : io::listImageFiles(argv[1])) {
        const auto* a = coco.find(std::filesystem::path(f).filename().string());
        if (a && !a->polygons.empty()) files.push_back(f);
    }
    if (files.empty()) {
        std::cerr << "no annotated images\n";
        return 2;
    }
    std::vector<uchar> buf;
    for (const auto& f : files) io::loadRgbImage(f);  // warm the file cache so both passes read from memory
    auto t0 = Clock::now();
    for (const auto& f : files) cv::imencode(".png", io::loadRgbImage(f), buf);
    const double io = std::chrono::duration<double>(Clock::now() - t0).count();
    t0 = Clock::now();
    for (const auto& f : files) {
        const cv::Mat img = io::loadRgbImage(f);
        const auto* a = coco.find(std::filesystem::path(f).filename().string());
        cv::imencode(".png", preprocess::featherImage(img, preprocess::polygonMask(img.cols, img.rows, a->polygons), {}), buf);
    }
    const double full = std::chrono::duration<double>(Clock::now() - t0).count();
    const double n = static_cast<double>(files.size());
    std::cout << files.size() << " images\n| measure | value |\n|---|---|\n"
              << "| decode + PNG encode only, images/s | " << n / io << " |\n"
              << "| full feathering (decode, mask, blur 21x21, blend, PNG encode), images/s | " << n / full << " |\n"
              << "| feathering cost over the I/O baseline | " << full / io << "x |\n";
    return 0;
}
