// data/Raster: the planted-bias benchmark's own rasterisation and noise (pixel-centre rule, even-odd with
// half-open edges, Irwin-Hall noise), and the generator's output pinned byte for byte, so that a change of
// OpenCV, the C++ library or the compiler that alters the demo data fails here (Debian 12 and 13 must agree).
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "TestRegistry.h"
#include "data/PlantedBias.h"
#include "data/Raster.h"
#include "io/Sha256.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {

io::Polygon poly(std::vector<double> xy) { return io::Polygon{std::move(xy)}; }

double shoelace(const io::Polygon& p) {
    double a = 0;
    const std::size_t n = p.xy.size() / 2;
    for (std::size_t i = 0, j = n - 1; i < n; j = i++) a += p.xy[2 * j] * p.xy[2 * i + 1] - p.xy[2 * i] * p.xy[2 * j + 1];
    return std::abs(a) / 2;
}

}  // namespace

class TestRaster : public QObject {
    Q_OBJECT
private slots:
    void squareCoversThePixelsWhoseCentresItContains() {
        // [1, 3] x [1, 3]: the centres 1.5 and 2.5 in each direction, 4 pixels
        const cv::Mat m = data::fillPolygonsAtPixelCentres(5, 5, {poly({1, 1, 3, 1, 3, 3, 1, 3})});
        QCOMPARE(cv::countNonZero(m), 4);
        for (int y = 0; y < 5; ++y)
            for (int x = 0; x < 5; ++x) QCOMPARE(m.at<std::uint8_t>(y, x) != 0, x >= 1 && x <= 2 && y >= 1 && y <= 2);
    }

    void edgesThroughCentresAreHalfOpen() {
        // edges through the centres 0.5 and 2.5: left and top edges are inside, right and bottom edges outside
        const cv::Mat m = data::fillPolygonsAtPixelCentres(4, 4, {poly({0.5, 0.5, 2.5, 0.5, 2.5, 2.5, 0.5, 2.5})});
        QCOMPARE(cv::countNonZero(m), 4);
        QVERIFY(m.at<std::uint8_t>(0, 0) && m.at<std::uint8_t>(1, 1) && !m.at<std::uint8_t>(2, 2) && !m.at<std::uint8_t>(0, 2));
        // two squares sharing the edge x = 2.5 never both cover a pixel, and together cover their union
        const cv::Mat a = data::fillPolygonsAtPixelCentres(6, 4, {poly({0.5, 0.5, 2.5, 0.5, 2.5, 2.5, 0.5, 2.5})});
        const cv::Mat b = data::fillPolygonsAtPixelCentres(6, 4, {poly({2.5, 0.5, 4.5, 0.5, 4.5, 2.5, 2.5, 2.5})});
        QCOMPARE(cv::countNonZero(a & b), 0);
        QCOMPARE(cv::countNonZero(a | b), 8);
        // orientation does not matter
        const cv::Mat r = data::fillPolygonsAtPixelCentres(4, 4, {poly({0.5, 2.5, 2.5, 2.5, 2.5, 0.5, 0.5, 0.5})});
        QCOMPARE(cv::countNonZero(r != m), 0);
    }

    void triangleByHand() {
        // right triangle (0,0) (4,0) (0,4): centre (x+.5, y+.5) inside iff x + y + 1 < 4
        const cv::Mat m = data::fillPolygonsAtPixelCentres(4, 4, {poly({0, 0, 4, 0, 0, 4})});
        for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 4; ++x) QCOMPARE(m.at<std::uint8_t>(y, x) != 0, x + y + 1 < 4);
    }

    void unionOfPolygonsAndClipping() {
        const cv::Mat m = data::fillPolygonsAtPixelCentres(4, 4, {poly({0, 0, 2, 0, 2, 2, 0, 2}), poly({1, 1, 3, 1, 3, 3, 1, 3}), poly({3, 3, 9, 3, 9, 9, 3, 9})});
        QCOMPARE(cv::countNonZero(m), 4 + 4 - 1 + 1);
        QCOMPARE(cv::countNonZero(data::fillPolygonsAtPixelCentres(4, 4, {poly({-5, -5, -1, -5, -1, -1})})), 0);
    }

    void pixelCountApproachesTheArea() {
        // the pixel count of a shape differs from its area by at most its perimeter (boundary pixels)
        std::mt19937_64 rng(7);
        for (int t = 0; t < 50; ++t) {
            io::Polygon p;
            const double cx = data::uniformIn(rng, 20, 44), cy = data::uniformIn(rng, 20, 44), r = data::uniformIn(rng, 5, 18);
            const int n = 3 + static_cast<int>(rng() % 30);
            double perimeter = 2 * M_PI * r;
            for (int i = 0; i < n; ++i) {
                p.xy.push_back(cx + r * std::cos(2 * M_PI * i / n));
                p.xy.push_back(cy + r * std::sin(2 * M_PI * i / n));
            }
            const double count = cv::countNonZero(data::fillPolygonsAtPixelCentres(64, 64, {p}));
            QVERIFY2(std::abs(count - shoelace(p)) <= perimeter, qPrintable(QString("%1 vs %2").arg(count).arg(shoelace(p))));
        }
    }

    void ellipseAtPixelCentres() {
        cv::Mat img(64, 64, CV_8UC3, cv::Scalar(0, 0, 0));
        data::fillEllipseAtPixelCentres(img, 32, 32, 10, 10, 0.3, cv::Vec3b(1, 2, 3));
        cv::Mat ch[3];
        cv::split(img, ch);
        const int n = cv::countNonZero(ch[0]);
        QVERIFY2(std::abs(n - M_PI * 100) < 2 * M_PI * 10, qPrintable(QString::number(n)));
        // a circle centred on a pixel corner is symmetric under the four mirror images
        cv::Mat f;
        cv::flip(ch[0], f, -1);
        QCOMPARE(cv::countNonZero(f != ch[0]), 0);
        QCOMPARE(img.at<cv::Vec3b>(32, 32), cv::Vec3b(1, 2, 3));
        // rotating an ellipse by pi gives the same pixels
        cv::Mat e1(64, 64, CV_8UC3, cv::Scalar(0, 0, 0)), e2 = e1.clone();
        data::fillEllipseAtPixelCentres(e1, 30.2, 31.7, 12, 5, 0.7, cv::Vec3b(9, 9, 9));
        data::fillEllipseAtPixelCentres(e2, 30.2, 31.7, 12, 5, 0.7 + M_PI, cv::Vec3b(9, 9, 9));
        QVERIFY(cv::norm(e1, e2, cv::NORM_L1) < 9 * 3 * 2);  // at most a tie pixel from the rounding of pi
    }

    void noiseAndRounding() {
        std::mt19937_64 rng(3);
        double s = 0, s2 = 0, lo = 1, hi = 0;
        const int n = 200000;
        for (int i = 0; i < n; ++i) {
            const double u = data::unitUniform(rng);
            lo = std::min(lo, u);
            hi = std::max(hi, u);
            const double z = data::irwinHallNormal(rng);
            s += z;
            s2 += z * z;
        }
        QVERIFY(lo >= 0 && hi < 1);
        QVERIFY2(std::abs(s / n) < 0.01, qPrintable(QString::number(s / n)));
        QVERIFY2(std::abs(s2 / n - 1) < 0.02, qPrintable(QString::number(s2 / n)));
        QCOMPARE(int(data::toByte(-3)), 0);
        QCOMPARE(int(data::toByte(2.5)), 3);
        QCOMPARE(int(data::toByte(2.49)), 2);
        QCOMPARE(int(data::toByte(300)), 255);
        // the stream is the standard's mt19937_64 (its 10000th output is fixed by [rand.predef])
        std::mt19937_64 std10k;
        std10k.discard(9999);
        QCOMPARE(std10k(), std::uint64_t(9981545732273789042ull));
    }

    void generatorOutputIsPinned() {
        // SHA-256 over the decoded pixels of every image and mask, and the metadata files, of a small
        // planted-bias set; made on Debian 12 (OpenCV 4.6, GCC 12) and required of every build.
        QTemporaryDir tmp;
        data::PlantedBiasOptions o;
        o.bias = 0.9;
        o.trainPerClass = 12;
        o.valPerClass = 4;
        o.testPerClass = 4;
        o.plainShare = 0.25;
        o.colourCue = 0.3;
        data::writePlantedBiasDataset(tmp.path().toStdString(), o);
        const fs::path root(tmp.path().toStdString());
        std::vector<fs::path> files;
        for (const auto& e : fs::recursive_directory_iterator(root))
            if (e.is_regular_file()) files.push_back(fs::relative(e.path(), root));
        std::sort(files.begin(), files.end());
        std::string all;
        for (const auto& f : files) {
            all += f.string() + "\n";
            if (f.extension() == ".png") {
                const cv::Mat m = cv::imread((root / f).string(), cv::IMREAD_UNCHANGED);
                QVERIFY2(!m.empty() && m.isContinuous(), f.c_str());
                all.append(reinterpret_cast<const char*>(m.data), m.total() * m.elemSize());
            } else {
                std::ifstream in(root / f, std::ios::binary);
                all += std::string(std::istreambuf_iterator<char>(in), {});
            }
        }
        const std::string digest = io::sha256Hex(all);
        qInfo("planted-bias digest %s over %d files", digest.c_str(), static_cast<int>(files.size()));
        QCOMPARE(QString::fromStdString(digest), QString(kPinnedDigest));
    }

private:
    static constexpr const char* kPinnedDigest = "760ee57153e63a0caa2d515d6863d32aefd077e17731e15bb160d525d879fdb0";
};

BIASSCOPE_REGISTER_TEST(TestRaster)
#include "TestRaster.moc"
