#include "preprocess/Feathering.h"

#include <cmath>
#include <algorithm>
#include <filesystem>

#include <opencv2/imgproc.hpp>

#include "common/Error.h"
#include "io/ImageIO.h"

namespace biasscope::preprocess {

namespace fs = std::filesystem;

FeatherBackground parseFeatherBackground(const std::string& s) {
    if (s == "white") return FeatherBackground::White;
    if (s == "black") return FeatherBackground::Black;
    if (s == "gray" || s == "grey") return FeatherBackground::Gray;
    if (s == "mean") return FeatherBackground::Mean;
    if (s == "blur") return FeatherBackground::Blur;
    throw InputError("unknown background '" + s + "' (expected white, black, gray, mean or blur)");
}

cv::Mat polygonMask(int width, int height, const std::vector<io::Polygon>& polygons) {
    cv::Mat mask = cv::Mat::zeros(height, width, CV_8U);
    for (const auto& p : polygons) {
        std::vector<cv::Point> pts;
        for (std::size_t i = 0; i + 1 < p.xy.size(); i += 2)
            pts.emplace_back(static_cast<int>(p.xy[i]), static_cast<int>(p.xy[i + 1]));  // numpy astype(int32) truncates
        cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(255));
    }
    return mask;
}

cv::Mat featherImage(const cv::Mat& image, const cv::Mat& mask, const FeatheringOptions& o) {
    if (image.type() != CV_8UC3) throw InputError("feathering needs an 8-bit 3-channel image");
    if (mask.size() != image.size() || mask.type() != CV_8U) throw InputError("mask and image sizes differ");
    if (o.kernel < 1 || o.kernel % 2 == 0) throw InputError("feathering kernel must be odd and positive, got " + std::to_string(o.kernel));
    cv::Mat alphaMask = mask;
    if (!o.hard) cv::GaussianBlur(mask, alphaMask, cv::Size(o.kernel, o.kernel), 0);
    cv::Mat background;
    switch (o.background) {
        case FeatherBackground::White: background = cv::Mat(image.size(), CV_8UC3, cv::Scalar(255, 255, 255)); break;
        case FeatherBackground::Black: background = cv::Mat(image.size(), CV_8UC3, cv::Scalar(0, 0, 0)); break;
        case FeatherBackground::Gray: background = cv::Mat(image.size(), CV_8UC3, cv::Scalar(128, 128, 128)); break;
        case FeatherBackground::Mean: background = cv::Mat(image.size(), CV_8UC3, cv::mean(image)); break;
        case FeatherBackground::Blur: {
            const int k = std::max(3, (std::min(image.cols, image.rows) / 8) | 1);
            cv::GaussianBlur(image, background, cv::Size(k, k), 0);
            break;
        }
    }
    cv::Mat out(image.size(), CV_8UC3);
    for (int y = 0; y < image.rows; ++y) {
        const auto* img = image.ptr<cv::Vec3b>(y);
        const auto* bg = background.ptr<cv::Vec3b>(y);
        const auto* m = alphaMask.ptr<std::uint8_t>(y);
        auto* dst = out.ptr<cv::Vec3b>(y);
        for (int x = 0; x < image.cols; ++x) {
            const double a = m[x] / 255.0;
            for (int c = 0; c < 3; ++c) dst[x][c] = static_cast<std::uint8_t>(img[x][c] * a + bg[x][c] * (1.0 - a));  // truncation, as astype(uint8)
        }
    }
    return out;
}

namespace {

void checkPolygons(const io::AnnotatedImage& a, const std::string& annotations) {
    for (const auto& p : a.polygons)
        for (std::size_t i = 0; i + 1 < p.xy.size(); i += 2)
            if (p.xy[i] < 0 || p.xy[i + 1] < 0 || p.xy[i] > a.width || p.xy[i + 1] > a.height)
                throw Error(annotations + ": polygon point (" + std::to_string(p.xy[i]) + ", " + std::to_string(p.xy[i + 1]) + ") of '" + a.originalName +
                            "' lies outside the annotated " + std::to_string(a.width) + "x" + std::to_string(a.height) + " image");
}

}  // namespace

FeatheringReport featherDirectory(const std::string& imagesDir, const std::string& annotationsPath, const std::string& masksDir,
                                  const std::string& outDir, const FeatheringOptions& options, const JobControl& job) {
    if (!fs::is_directory(imagesDir)) throw InputError(imagesDir + ": image folder not found");
    if (annotationsPath.empty() == masksDir.empty()) throw InputError("give either a COCO annotation file or a mask folder");
    if (options.kernel < 1 || options.kernel % 2 == 0) throw InputError("--kernel must be odd and positive, got " + std::to_string(options.kernel));
    if (!masksDir.empty() && !fs::is_directory(masksDir)) throw InputError(masksDir + ": mask folder not found");
    io::CocoAnnotations coco;
    if (!annotationsPath.empty()) coco = io::readCocoAnnotations(annotationsPath);
    std::vector<fs::path> files;
    for (const auto& f : io::listImageFiles(imagesDir, true)) files.emplace_back(f);
    if (files.empty()) throw InputError(imagesDir + ": no images (jpg, jpeg, png, bmp, tif, tiff, webp)");
    fs::create_directories(outDir);
    FeatheringReport report;
    for (std::size_t i = 0; i < files.size(); ++i) {
        job.checkCancelled();
        const fs::path& f = files[i];
        const std::string name = f.filename().string();
        const std::string out = (fs::path(outDir) / (f.stem().string() + ".png")).string();
        try {
            cv::Mat mask;
            const cv::Mat image = io::loadRgbImage(f.string());
            if (!annotationsPath.empty()) {
                const io::AnnotatedImage* a = coco.find(name);
                if (!a || a->polygons.empty()) {
                    if (options.keepUnannotated) {
                        io::saveRgbImage(out, image);
                        report.keptUnannotated.push_back(name);
                        report.written.push_back(out);
                    } else {
                        report.skippedUnannotated.push_back(name);
                    }
                    continue;
                }
                if (a->width != image.cols || a->height != image.rows)
                    throw Error(annotationsPath + ": '" + name + "' is annotated as " + std::to_string(a->width) + "x" + std::to_string(a->height) +
                                " but the image file is " + std::to_string(image.cols) + "x" + std::to_string(image.rows));
                checkPolygons(*a, annotationsPath);
                mask = polygonMask(image.cols, image.rows, a->polygons);
                double area = 0;  // shoelace: a degenerate polygon rasterises to a line or a dot, not a face
                for (const auto& p : a->polygons) {
                    double s = 0;
                    const std::size_t n = p.xy.size() / 2;
                    for (std::size_t i = 0; i < n; ++i) {
                        const std::size_t j = (i + 1) % n;
                        s += p.xy[2 * i] * p.xy[2 * j + 1] - p.xy[2 * j] * p.xy[2 * i + 1];
                    }
                    area += std::abs(s) / 2;
                }
                if (area < 1.0 || cv::countNonZero(mask) == 0)
                    throw Error(annotationsPath + ": the polygons of '" + name + "' cover no pixel (zero area); the feathered image would be all background");
            } else {
                const fs::path mp = fs::path(masksDir) / (f.stem().string() + ".png");
                if (!fs::exists(mp)) {
                    report.skippedUnannotated.push_back(name);
                    continue;
                }
                cv::Mat m = io::loadRgbImage(mp.string());
                cv::cvtColor(m, mask, cv::COLOR_RGB2GRAY);
                if (mask.size() != image.size())
                    throw Error(mp.string() + ": mask is " + std::to_string(mask.cols) + "x" + std::to_string(mask.rows) + ", image is " +
                                std::to_string(image.cols) + "x" + std::to_string(image.rows));
                cv::threshold(mask, mask, 127, 255, cv::THRESH_BINARY);
                if (cv::countNonZero(mask) == 0) throw Error(mp.string() + ": the mask is empty (no pixel above 127); the feathered image would be all background");
            }
            io::saveRgbImage(out, featherImage(image, mask, options));
            report.written.push_back(out);
        } catch (const Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            report.failures.emplace_back(name, e.what());
        }
        job.report(static_cast<double>(i + 1) / static_cast<double>(files.size()), name);
    }
    return report;
}

}  // namespace biasscope::preprocess
