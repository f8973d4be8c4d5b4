#include "data/PlantedBias.h"

#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/Error.h"
#include "io/AtomicFile.h"
#include "data/Raster.h"

namespace biasscope::data {

const char* const kPlantedClasses[2] = {"circle", "triangle"};
const char* const kPlantedPlaces[2] = {"land", "water"};

namespace {

namespace fs = std::filesystem;

constexpr int kPlainPlace = 2;  // the plain grey background of plainShare training images: no place of its own

double uni(std::mt19937_64& r, double a, double b) { return uniformIn(r, a, b); }

// Adds N(0, sd)-distributed sensor noise (Irwin-Hall) to every channel, rounded and clamped.
void addNoise(cv::Mat& bgr, double sd, std::mt19937_64& rng) {
    for (int y = 0; y < bgr.rows; ++y) {
        auto* row = bgr.ptr<cv::Vec3b>(y);
        for (int x = 0; x < bgr.cols; ++x)
            for (int c = 0; c < 3; ++c) row[x][c] = toByte(row[x][c] + sd * irwinHallNormal(rng));
    }
}

cv::Vec3b bgrOf(double b, double g, double r) { return {toByte(b), toByte(g), toByte(r)}; }

// Every pixel is drawn by data/Raster (no OpenCV drawing): the same bytes with every OpenCV version.
cv::Mat background(int size, int place, std::mt19937_64& rng) {
    cv::Mat img(size, size, CV_8UC3);
    if (place == kPlainPlace) {  // plain: a neutral grey near the feathering fill, with the same sensor noise
        const std::uint8_t g = toByte(uni(rng, 110, 146));
        img.setTo(cv::Scalar::all(g));
    } else if (place == 0) {  // land: green-brown with darker and lighter blotches
        const double b = uni(rng, 50, 80), g = uni(rng, 115, 150), r = uni(rng, 95, 130);
        img.setTo(cv::Scalar(toByte(b), toByte(g), toByte(r)));  // BGR
        const int blotches = 6 + static_cast<int>(rng() % 6);
        for (int i = 0; i < blotches; ++i) {
            const double s = uni(rng, -40, 40);
            const double cx = uni(rng, 0, size), cy = uni(rng, 0, size);
            const double ax = uni(rng, size / 16.0, size / 5.0), ay = uni(rng, size / 16.0, size / 5.0), angle = uni(rng, 0, M_PI);
            fillEllipseAtPixelCentres(img, cx, cy, ax, ay, angle, bgrOf(60 + s * 0.5, 130 + s, 110 + s * 0.8));
        }
    } else {  // water: blue with horizontal light waves
        const double b = uni(rng, 160, 200), g = uni(rng, 100, 130), r = uni(rng, 40, 70);
        img.setTo(cv::Scalar(toByte(b), toByte(g), toByte(r)));
        const double period = uni(rng, size / 10.0, size / 6.0), phase = uni(rng, 0, 6.3), amp = uni(rng, 1, size / 20.0);
        for (double y0 = uni(rng, 0, period); y0 < size; y0 += period)
            drawCurveByColumns(img, [&](double x) { return y0 + amp * std::sin(x * 0.3 + phase); }, cv::Vec3b(230, 190, 140));
    }
    addNoise(img, 8, rng);
    return img;
}

io::Polygon objectPolygon(int size, int cls, std::mt19937_64& rng) {
    const double cx = uni(rng, 0.32, 0.68) * size, cy = uni(rng, 0.32, 0.68) * size;
    const double r = uni(rng, 0.17, 0.24) * size, rot = uni(rng, 0, 2 * M_PI);
    io::Polygon p;
    const int n = cls == 0 ? 32 : 3;
    const double radius = cls == 0 ? r : r * 1.3;  // similar areas
    for (int i = 0; i < n; ++i) {
        const double a = rot + 2 * M_PI * i / n;
        p.xy.push_back(std::round((cx + radius * std::cos(a)) * 10) / 10);
        p.xy.push_back(std::round((cy + radius * std::sin(a)) * 10) / 10);
    }
    return p;
}

}  // namespace

PlantedBiasSummary writePlantedBiasDataset(const std::string& outDir, const PlantedBiasOptions& o) {
    if (o.bias < 0 || o.bias > 1) throw InputError("bias must be in [0, 1], got " + std::to_string(o.bias));
    if (o.size < 16) throw InputError("image size must be >= 16");
    if (o.colourCue < 0 || o.colourCue > 1) throw InputError("colour cue must be in [0, 1]");
    if (o.plainShare < 0 || o.plainShare >= 1) throw InputError("plain-background share must be in [0, 1)");
    const fs::path root(outDir);
    for (const char* c : kPlantedClasses) {
        fs::create_directories(root / c / "mask");
        fs::create_directories(root / "test" / c);
    }
    std::mt19937_64 rng(o.seed);
    PlantedBiasSummary sum;
    std::ostringstream meta, cls, place;
    meta << "img_filename,y,place,split,aligned\n";
    cls << "path,label,split\n";
    place << "path,label,split\n";
    nlohmann::json coco;
    coco["info"] = {{"description", "BiasScope planted-bias benchmark"}, {"bias", o.bias}, {"seed", o.seed}};
    coco["categories"] = nlohmann::json::array({{{"id", 1}, {"name", "object"}}});
    coco["images"] = nlohmann::json::array();
    coco["annotations"] = nlohmann::json::array();
    int id = 0;
    const char* splitNames[3] = {"train", "val", "test"};
    for (int split = 0; split < 3; ++split) {
        const int perClass = split == 0 ? o.trainPerClass : split == 1 ? o.valPerClass : o.testPerClass;
        for (int c = 0; c < 2; ++c)
            for (int i = 0; i < perClass; ++i) {
                // training: place agrees with the class with probability `bias`; val/test: balanced halves
                const bool plain = split == 0 && o.plainShare > 0 && uni(rng, 0, 1) < o.plainShare;
                const bool aligned = split == 0 ? uni(rng, 0, 1) < o.bias : i % 2 == 0;
                const int pl = plain ? kPlainPlace : aligned ? c : 1 - c;
                cv::Mat img = background(o.size, pl, rng);
                const io::Polygon poly = objectPolygon(o.size, c, rng);
                const cv::Mat mask = fillPolygonsAtPixelCentres(o.size, o.size, {poly});  // the masks feathering reads for the demo
                double col[3] = {uni(rng, 0, 255), uni(rng, 0, 255), uni(rng, 0, 255)};  // BGR
                const double classColour[2][3] = {{40, 210, 230}, {40, 40, 220}};  // circle yellow, triangle red (BGR)
                for (int k = 0; k < 3; ++k) col[k] = col[k] * (1 - o.colourCue) + classColour[c][k] * o.colourCue;
                cv::Mat obj(o.size, o.size, CV_8UC3, cv::Scalar(toByte(col[0]), toByte(col[1]), toByte(col[2])));
                if (c == 1) {  // stripes: the triangle's texture, diagonal stripes of the darkened colour
                    const cv::Vec3b dark = bgrOf(col[0] * 0.35, col[1] * 0.35, col[2] * 0.35);
                    for (int y = 0; y < o.size; ++y)
                        for (int x = 0; x < o.size; ++x)
                            if (((x + y) / 2) % 2 == 0) obj.at<cv::Vec3b>(y, x) = dark;
                }
                addNoise(obj, 10, rng);  // shading
                obj.copyTo(img, mask);
                const std::string stem = std::string(splitNames[split]) + "_" + kPlantedClasses[c] + "_" + std::to_string(i);
                const std::string rel = std::string(kPlantedClasses[c]) + "/" + stem + ".png";
                // colours above are given in OpenCV's BGR order, so `img` is BGR as imwrite expects
                if (!cv::imwrite((root / rel).string(), img) || !cv::imwrite((root / kPlantedClasses[c] / "mask" / (stem + ".png")).string(), mask))
                    throw Error((root / rel).string() + ": cannot write");
                if (split == 2) cv::imwrite((root / "test" / kPlantedClasses[c] / (stem + ".png")).string(), img);
                // metadata.csv is the Waterbirds layout (places 0 / 1 only): plain-background images are listed in class.csv alone
                if (!plain) meta << rel << "," << c << "," << pl << "," << split << "," << (aligned ? 1 : 0) << "\n";
                cls << rel << "," << kPlantedClasses[c] << "," << splitNames[split] << "\n";
                if (!plain) place << rel << "," << kPlantedPlaces[pl] << "," << splitNames[split] << "\n";
                ++id;
                double area = cv::countNonZero(mask);
                std::vector<double> xs, ys;
                for (std::size_t k = 0; k < poly.xy.size(); k += 2) {
                    xs.push_back(poly.xy[k]);
                    ys.push_back(poly.xy[k + 1]);
                }
                const double x0 = *std::min_element(xs.begin(), xs.end()), y0 = *std::min_element(ys.begin(), ys.end());
                const double x1 = *std::max_element(xs.begin(), xs.end()), y1 = *std::max_element(ys.begin(), ys.end());
                coco["images"].push_back({{"id", id}, {"file_name", stem + ".png"}, {"width", o.size}, {"height", o.size}, {"extra", {{"name", stem + ".png"}}}});
                coco["annotations"].push_back({{"id", id}, {"image_id", id}, {"category_id", 1}, {"segmentation", {poly.xy}}, {"area", area},
                                               {"bbox", {x0, y0, x1 - x0, y1 - y0}}, {"iscrowd", 0}});
                (split == 0 ? sum.train : split == 1 ? sum.val : sum.test)++;
                if (split == 0 && plain) ++sum.trainPlain;
                if (split == 0 && aligned && !plain) ++sum.trainAligned;
            }
    }
    io::writeFileAtomically((root / "metadata.csv").string(), meta.str());
    io::writeFileAtomically((root / "class.csv").string(), cls.str());
    io::writeFileAtomically((root / "place.csv").string(), place.str());
    io::writeFileAtomically((root / "annotations.json").string(), coco.dump());
    return sum;
}

}  // namespace biasscope::data
