#include "data/SyntheticImage.h"

#include <random>

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

}  // namespace biasscope::data
