#include "io/ImageIO.h"

#include <algorithm>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/Error.h"
#include "io/AtomicFile.h"

namespace biasscope::io {

cv::Mat loadRgbImage(const std::string& path) {
    if (!std::filesystem::exists(path)) throw Error(path + ": image file not found");
    cv::Mat raw = cv::imread(path, cv::IMREAD_UNCHANGED);
    if (raw.empty()) throw Error(path + ": cannot decode image (corrupt or unsupported format)");
    if (raw.depth() != CV_8U) {
        cv::Mat scaled;
        raw.convertTo(scaled, CV_8U, raw.depth() == CV_16U ? 1.0 / 257.0 : 1.0);
        raw = scaled;
    }
    cv::Mat rgb;
    switch (raw.channels()) {
        case 1: cv::cvtColor(raw, rgb, cv::COLOR_GRAY2RGB); break;
        case 3: cv::cvtColor(raw, rgb, cv::COLOR_BGR2RGB); break;
        case 4: cv::cvtColor(raw, rgb, cv::COLOR_BGRA2RGB); break;
        default: throw Error(path + ": unsupported channel count " + std::to_string(raw.channels()));
    }
    return rgb;
}

std::vector<std::string> listImageFiles(const std::string& dir) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) throw Error(dir + ": image folder not found");
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::string ext = e.path().extension().string();
        for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".tif" || ext == ".tiff" || ext == ".webp")
            out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

void saveRgbImage(const std::string& path, const cv::Mat& rgb) {
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    std::vector<uchar> buf;
    const std::string ext = std::filesystem::path(path).extension().string();
    if (!cv::imencode(ext.empty() ? ".png" : ext, bgr, buf)) throw Error(path + ": cannot encode image");
    writeFileAtomically(path, std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

}  // namespace biasscope::io
