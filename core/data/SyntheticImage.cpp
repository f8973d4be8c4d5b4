#include "data/SyntheticImage.h"

#include <filesystem>
#include <random>

#include <opencv2/imgcodecs.hpp>

#include <opencv2/imgproc.hpp>

namespace biasscope::data {

cv::Mat makeSyntheticImage(int width, int height, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> colour(40, 215);
    cv::Mat img(height, width, CV_8UC3);
    const cv::Vec3b a(static_cast<uchar>(colour(rng)), static_cast<uchar>(colour(rng)), static_cast<uchar>(colour(rng)));
    const cv::Vec3b b(static_cast<uchar>(colour(rng)), static_cast<uchar>(colour(rng)), static_cast<uchar>(colour(rng)));
    const int period = 6 + static_cast<int>(rng() % 10);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            const double t = static_cast<double>(y) / std::max(1, height - 1);
            cv::Vec3b p;
            for (int c = 0; c < 3; ++c) p[c] = static_cast<uchar>(a[c] * (1 - t) + b[c] * t);
            if (((x + y) / period) % 2 == 0)
                for (int c = 0; c < 3; ++c) p[c] = static_cast<uchar>(p[c] * 0.8);
            img.at<cv::Vec3b>(y, x) = p;
        }
    const cv::Scalar fg(colour(rng), colour(rng), colour(rng));
    cv::ellipse(img, cv::Point(width / 2, height / 2), cv::Size(width / 5, height / 4), 0, 0, 360, fg, cv::FILLED, cv::LINE_AA);
    cv::circle(img, cv::Point(width / 2 - width / 12, height / 2 - height / 12), std::max(1, width / 40), cv::Scalar(20, 20, 20), cv::FILLED);
    cv::circle(img, cv::Point(width / 2 + width / 12, height / 2 - height / 12), std::max(1, width / 40), cv::Scalar(20, 20, 20), cv::FILLED);
    return img;
}

void writeColourDiscDataset(const std::string& root, int perClass, std::uint64_t seed, int width, int height, const std::string& ext) {
    namespace fs = std::filesystem;
    std::mt19937_64 rng(seed);
    const int m = std::min(width, height);
    std::uniform_int_distribution<int> px(width * 7 / 20, width * 13 / 20), py(height * 7 / 20, height * 13 / 20), rad(m * 9 / 40, m * 13 / 40),
        noise(90, 170), jitter(-30, 30);
    for (int c = 0; c < 2; ++c) {
        const fs::path dir = fs::path(root) / (c == 0 ? "red" : "blue");
        fs::create_directories(dir);
        for (int i = 0; i < perClass; ++i) {
            cv::Mat img(height, width, CV_8UC3);
            for (int y = 0; y < height; ++y)
                for (int x = 0; x < width; ++x) {
                    const auto g = static_cast<uchar>(noise(rng));
                    img.at<cv::Vec3b>(y, x) = cv::Vec3b(g, g, g);
                }
            const cv::Scalar bgr = c == 0 ? cv::Scalar(40 + jitter(rng), 40 + jitter(rng), 210 + jitter(rng)) : cv::Scalar(210 + jitter(rng), 60 + jitter(rng), 40 + jitter(rng));
            cv::circle(img, cv::Point(px(rng), py(rng)), rad(rng), bgr, cv::FILLED);
            if (!cv::imwrite((dir / ("img" + std::to_string(i) + "." + ext)).string(), img)) throw std::runtime_error((dir / "").string() + ": cannot write images");
        }
    }
}

}  // namespace biasscope::data
