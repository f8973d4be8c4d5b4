// Feathering of the shared IEAT gender images against an independent transcription of the published
// notebook (method.md section 3): polygon mask, GaussianBlur(21x21, sigma 0) written out as a
// separable double-precision convolution, alpha blend over white, truncation. Max difference <= 1.
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <opencv2/imgproc.hpp>

#include "TestRegistry.h"
#include "io/CocoAnnotations.h"
#include "io/ImageIO.h"
#include "preprocess/Feathering.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {

// The notebook's steps, with the blur written from its definition (OpenCV: sigma = 0.3((k-1)/2 - 1) + 0.8,
// BORDER_REFLECT_101) instead of OpenCV's fixed-point implementation.
cv::Mat referenceFeather(const cv::Mat& rgb, const io::AnnotatedImage& a, int k, bool opencvBlur) {
    cv::Mat mask = cv::Mat::zeros(rgb.rows, rgb.cols, CV_8U);
    for (const auto& p : a.polygons) {
        std::vector<cv::Point> pts;
        for (std::size_t i = 0; i + 1 < p.xy.size(); i += 2) pts.emplace_back(int(p.xy[i]), int(p.xy[i + 1]));
        cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(255));
    }
    const double sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8;
    std::vector<double> w(k);
    double sum = 0;
    for (int i = 0; i < k; ++i) sum += w[i] = std::exp(-((i - k / 2) * (i - k / 2)) / (2 * sigma * sigma));
    for (auto& v : w) v /= sum;
    auto reflect = [](int i, int n) {
        if (n == 1) return 0;
        while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
        return i;
    };
    cv::Mat tmp(mask.size(), CV_64F), blurred(mask.size(), CV_8U);
    if (opencvBlur) cv::GaussianBlur(mask, blurred, cv::Size(k, k), 0);  // the notebook's own call
    else
    for (int y = 0; y < mask.rows; ++y)
        for (int x = 0; x < mask.cols; ++x) {
            double s = 0;
            for (int i = 0; i < k; ++i) s += w[i] * mask.at<uchar>(y, reflect(x + i - k / 2, mask.cols));
            tmp.at<double>(y, x) = s;
        }
    if (!opencvBlur)
    for (int y = 0; y < mask.rows; ++y)
        for (int x = 0; x < mask.cols; ++x) {
            double s = 0;
            for (int i = 0; i < k; ++i) s += w[i] * tmp.at<double>(reflect(y + i - k / 2, mask.rows), x);
            blurred.at<uchar>(y, x) = cv::saturate_cast<uchar>(s);
        }
    cv::Mat out(rgb.size(), CV_8UC3);
    for (int y = 0; y < rgb.rows; ++y)
        for (int x = 0; x < rgb.cols; ++x) {
            const double alpha = blurred.at<uchar>(y, x) / 255.0;
            for (int c = 0; c < 3; ++c) out.at<cv::Vec3b>(y, x)[c] = uchar(rgb.at<cv::Vec3b>(y, x)[c] * alpha + 255 * (1 - alpha));
        }
    return out;
}

}  // namespace

class TestFeathering : public QObject {
    Q_OBJECT
private slots:
    void roboflowNamesMapToOriginals() {
        QCOMPARE(io::originalNameFromRoboflow("male7_google_jpg.rf.85f3bebc9520a3043be5394639d73fc3.jpg"), std::string("male7_google.jpg"));
        QCOMPARE(io::originalNameFromRoboflow("plain.png"), std::string("plain.png"));
    }

    void sharedImagesMatchThePublishedAlgorithm_data() {
        QTest::addColumn<QString>("set");
        QTest::newRow("male") << "male";
        QTest::newRow("female") << "female";
    }
    void sharedImagesMatchThePublishedAlgorithm() {
        QFETCH(QString, set);
        const std::string root = test::sharedPath("ieat-gender/");
        const std::string ann = root + set.toStdString() + "_annotations.json";
        QTemporaryDir out;
        const auto report = preprocess::featherDirectory(root + set.toStdString(), ann, "", out.path().toStdString(), {});
        QVERIFY2(report.failures.empty(), report.failures.empty() ? "" : report.failures.front().second.c_str());
        const auto coco = io::readCocoAnnotations(ann);
        if (set == "male") {
            QCOMPARE(report.skippedUnannotated, std::vector<std::string>{"man3_google.jpg"});  // published: an all-white image
            QCOMPARE(report.written.size(), std::size_t(39));
        } else {
            QCOMPARE(report.written.size(), std::size_t(40));
            QCOMPARE(coco.find("girl7_google.jpg")->polygons.size(), std::size_t(3));
        }
        int maxDiff = 0, maxDiffExact = 0;
        for (const auto& path : report.written) {
            const std::string stem = fs::path(path).stem().string();
            std::string source;
            for (const auto& e : fs::directory_iterator(root + set.toStdString()))
                if (e.path().stem() == stem) source = e.path().string();
            const io::AnnotatedImage* a = coco.find(fs::path(source).filename().string());
            QVERIFY2(a, source.c_str());
            const cv::Mat original = io::loadRgbImage(source);
            cv::Mat diff;
            const cv::Mat ours = io::loadRgbImage(path);
            double mx = 0;
            cv::absdiff(ours, referenceFeather(original, *a, 21, true), diff);
            cv::minMaxLoc(diff.reshape(1), nullptr, &mx);
            maxDiff = std::max(maxDiff, int(mx));
            // OpenCV's 8-bit blur is fixed point: up to 1.32 grey levels from exact arithmetic on these masks
            cv::absdiff(ours, referenceFeather(original, *a, 21, false), diff);
            cv::minMaxLoc(diff.reshape(1), nullptr, &mx);
            maxDiffExact = std::max(maxDiffExact, int(mx));
        }
        QVERIFY2(maxDiff <= 1, qPrintable(QString("max pixel difference %1").arg(maxDiff)));
        QVERIFY2(maxDiffExact <= 2, qPrintable(QString("max pixel difference to exact-arithmetic blur %1").arg(maxDiffExact)));
    }

    void badInputsAreNamedAndEarlierOutputsKept() {
        QTemporaryDir dir;
        const fs::path images = fs::path(dir.path().toStdString()) / "images";
        fs::create_directories(images);
        const cv::Mat img(20, 30, CV_8UC3, cv::Scalar(10, 20, 30));
        io::saveRgbImage((images / "a.png").string(), img);
        io::saveRgbImage((images / "b.png").string(), img);
        io::saveRgbImage((images / "c.png").string(), img);
        { std::ofstream((images / "d.png").string()) << "not a png"; }
        const std::string ann = (fs::path(dir.path().toStdString()) / "ann.json").string();
        std::ofstream(ann) << R"({"images":[{"id":1,"file_name":"a.png","width":30,"height":20},{"id":2,"file_name":"b.png","width":31,"height":20},
            {"id":3,"file_name":"c.png","width":30,"height":20},{"id":4,"file_name":"d.png","width":30,"height":20}],
            "annotations":[{"id":1,"image_id":1,"segmentation":[[2,2,20,2,20,15]]},{"id":2,"image_id":2,"segmentation":[[2,2,20,2,20,15]]},
            {"id":3,"image_id":3,"segmentation":[[2,2,40,2,20,15]]},{"id":4,"image_id":4,"segmentation":[[2,2,20,2,20,15]]}]})";
        const std::string out = (fs::path(dir.path().toStdString()) / "out").string();
        const auto r = preprocess::featherDirectory(images.string(), ann, "", out, {});
        QCOMPARE(r.written.size(), std::size_t(1));  // a.png
        QCOMPARE(r.failures.size(), std::size_t(3));
        QVERIFY(r.failures[0].second.find("annotated as 31x20") != std::string::npos);
        QVERIFY(r.failures[1].second.find("outside") != std::string::npos);
        QVERIFY(r.failures[2].second.find("d.png") != std::string::npos);
        QVERIFY(fs::exists(fs::path(out) / "a.png"));
        QVERIFY_EXCEPTION_THROWN(io::readCocoAnnotations(images.string() + "/d.png"), Error);
    }
};

BIASSCOPE_REGISTER_TEST(TestFeathering)
#include "TestFeathering.moc"
