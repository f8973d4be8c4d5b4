#include "io/ImageIO.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/Error.h"
#include "io/AtomicFile.h"

namespace biasscope::io {

namespace fs = std::filesystem;

namespace {

std::string fmtPixels(std::uint64_t w, std::uint64_t h) { return std::to_string(w) + " x " + std::to_string(h) + " pixels"; }

void checkSize(const std::string& path, std::uint64_t w, std::uint64_t h) {
    if (w == 0 || h == 0) throw Error(path + ": image header declares " + fmtPixels(w, h));
    if (static_cast<double>(w) * static_cast<double>(h) > kMaxImagePixels)
        throw Error(path + ": image of " + fmtPixels(w, h) + " exceeds the limit of " + std::to_string(static_cast<long long>(kMaxImagePixels / 1e6)) +
                    " megapixels");
}

// JPEG: walk the markers; SOFn gives the size; after the first SOS, an EOI (FF D9) must follow
// (entropy-coded data holds FF only as FF 00 or as restart / scan markers).
void checkJpeg(const std::string& path, const std::string& b) {
    std::size_t i = 2;
    bool scanning = false;
    while (i + 1 < b.size()) {
        if (scanning) {
            if (static_cast<unsigned char>(b[i]) != 0xFF) { ++i; continue; }
            const auto m = static_cast<unsigned char>(b[i + 1]);
            if (m == 0x00 || m == 0xFF || (m >= 0xD0 && m <= 0xD7)) { i += (m == 0xFF ? 1 : 2); continue; }
            if (m == 0xD9) return;  // complete
            scanning = false;       // another segment (progressive: DHT, SOS of the next scan)
        }
        if (static_cast<unsigned char>(b[i]) != 0xFF) throw Error(path + ": corrupt JPEG (bad marker at byte " + std::to_string(i) + ")");
        const auto m = static_cast<unsigned char>(b[i + 1]);
        if (m == 0xFF) { ++i; continue; }
        if (m == 0xD9) return;
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { i += 2; continue; }
        if (i + 3 >= b.size()) break;
        const std::size_t len = (static_cast<unsigned char>(b[i + 2]) << 8) | static_cast<unsigned char>(b[i + 3]);
        if (len < 2) throw Error(path + ": corrupt JPEG (segment length " + std::to_string(len) + ")");
        const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof && i + 8 < b.size()) {
            const std::uint64_t h = (static_cast<unsigned char>(b[i + 5]) << 8) | static_cast<unsigned char>(b[i + 6]);
            const std::uint64_t w = (static_cast<unsigned char>(b[i + 7]) << 8) | static_cast<unsigned char>(b[i + 8]);
            checkSize(path, w, h);
        }
        i += 2 + len;
        if (m == 0xDA) scanning = true;
    }
    throw Error(path + ": truncated JPEG (no end-of-image marker; the file is cut short)");
}

void checkPng(const std::string& path, const std::string& b) {
    if (b.size() < 33 || b.compare(12, 4, "IHDR") != 0) throw Error(path + ": corrupt PNG (no IHDR header)");
    auto be32 = [&](std::size_t o) {
        return (static_cast<std::uint64_t>(static_cast<unsigned char>(b[o])) << 24) | (static_cast<unsigned char>(b[o + 1]) << 16) |
               (static_cast<unsigned char>(b[o + 2]) << 8) | static_cast<unsigned char>(b[o + 3]);
    };
    checkSize(path, be32(16), be32(20));
}

}  // namespace

cv::Mat readImageFile(const std::string& path, int flags) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open image file");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF && static_cast<unsigned char>(bytes[1]) == 0xD8) checkJpeg(path, bytes);
    if (bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) checkPng(path, bytes);
    cv::Mat m;
    try {
        m = cv::imread(path, flags);  // decoded by OpenCV as before (EXIF orientation etc.); the checks above only refuse
    } catch (const cv::Exception& e) {
        std::string what = e.what();
        what = what.substr(0, what.find('\n'));
        throw Error(path + ": cannot decode image (" + what + ")");
    }
    if (m.empty()) throw Error(path + ": cannot decode image (corrupt or unsupported format)");
    return m;
}

cv::Mat loadRgbImage(const std::string& path) {
    if (!std::filesystem::exists(path)) throw Error(path + ": image file not found");
    cv::Mat raw = readImageFile(path, cv::IMREAD_UNCHANGED);
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

std::vector<std::string> listImageFiles(const std::string& dir, bool uniqueStems) {
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
    if (uniqueStems) {
        std::map<std::string, std::string> byStem;
        for (const auto& f : out) {
            const auto [it, fresh] = byStem.emplace(fs::path(f).stem().string(), f);
            if (!fresh)
                throw Error(dir + ": " + fs::path(it->second).filename().string() + " and " + fs::path(f).filename().string() + " have the same name stem '" +
                            it->first + "' (outputs are named by stem); rename one");
        }
    }
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
