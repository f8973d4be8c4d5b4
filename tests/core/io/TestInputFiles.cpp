// Input files a user hands over are refused with one message naming the file when they are not what they claim:
// JSON nested without bound, fields of the wrong type or with fractions, truncated JPEGs, images too large to
// decode, two images with one stem; and temporaries of killed writers are cleared without touching live ones.
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/wait.h>
#include <unistd.h>

#include <opencv2/imgcodecs.hpp>

#include "TestFixtures.h"
#include "TestRegistry.h"
#include "common/Error.h"
#include "io/AtomicFile.h"
#include "io/ImageIO.h"
#include "io/JsonFile.h"

using namespace biasscope;
namespace fs = std::filesystem;

using test::errorOf;
using test::readBytes;
using test::writeBytes;

class TestInputFiles : public QObject {
    Q_OBJECT
private slots:
    void deepJsonIsRefusedWhileParsing() {
        const fs::path p = fs::path(tmp_.path().toStdString()) / "deep.json";
        writeBytes(p, std::string(100000, '[') + std::string(100000, ']'));
        const std::string e = errorOf([&] { io::readJsonFile(p.string(), "study file"); });
        QVERIFY2(e.find("deep.json: JSON nested deeper than 64 levels") != std::string::npos, e.c_str());
        writeBytes(p, std::string(64, '[') + std::string(64, ']'));  // at the bound: fine
        QCOMPARE(io::readJsonFile(p.string(), "x").is_array(), true);
        const std::string bad = errorOf([&] { io::parseJsonText("{\"a\": ", "header of x"); });
        QVERIFY2(bad.rfind("header of x: not valid JSON: ", 0) == 0 && bad.find("[json.exception") == std::string::npos, bad.c_str());
    }

    void jsonFieldsAreTypedAndNamed() {
        const auto j = nlohmann::json::parse(R"({"a": 1.7, "b": 4294967297, "c": "x", "d": 3, "e": NaN})", nullptr, false);
        const auto j2 = nlohmann::json::parse(R"({"a": 1.7, "b": 4294967297, "c": "x", "d": 3})");
        QVERIFY(j.is_discarded());  // NaN is not JSON
        QVERIFY(errorOf([&] { io::jsonInt(j2, "a", "f: t[0]", 0, 1000); }).find("f: t[0]: 'a' must be an integer in [0, 1000], found 1.7") != std::string::npos);
        QVERIFY(errorOf([&] { io::jsonInt(j2, "b", "f", 0, 1000000); }).find("found 4294967297") != std::string::npos);
        QVERIFY(errorOf([&] { io::jsonInt(j2, "c", "f", 0, 10); }).find("'c' must be an integer") != std::string::npos);
        QVERIFY(errorOf([&] { io::jsonString(j2, "d", "f"); }).find("'d' must be a string, found 3") != std::string::npos);
        QVERIFY(errorOf([&] { io::jsonString(j2, "zz", "f"); }).find("f: 'zz' missing") != std::string::npos);
        QCOMPARE(io::jsonInt(j2, "d", "f", 0, 10), std::int64_t(3));
        QCOMPARE(io::jsonNumber(j2, "a", "f", 0, 2, 0), 1.7);
        QVERIFY(errorOf([&] { io::jsonNumber(j2, "a", "f", 0, 1, 0); }).find("'a' must be a number in [0, 1], found 1.7") != std::string::npos);
    }

    void truncatedJpegAndHugeImagesAreRefused() {
        const fs::path dir = fs::path(tmp_.path().toStdString());
        cv::Mat img(64, 48, CV_8UC3, cv::Scalar(10, 200, 30));
        cv::imwrite((dir / "ok.jpg").string(), img);
        cv::imwrite((dir / "ok.png").string(), img);
        QCOMPARE(io::readImageFile((dir / "ok.jpg").string(), cv::IMREAD_COLOR).cols, 48);
        QCOMPARE(io::loadRgbImage((dir / "ok.png").string()).rows, 64);
        const std::string jpg = readBytes(dir / "ok.jpg");
        writeBytes(dir / "cut.jpg", jpg.substr(0, jpg.size() - 40));
        QVERIFY(!cv::imread((dir / "cut.jpg").string()).empty());  // what OpenCV does on its own: a warning and a grey-filled image
        const std::string e = errorOf([&] { io::loadRgbImage((dir / "cut.jpg").string()); });
        QVERIFY2(e.find("cut.jpg: truncated JPEG") != std::string::npos, e.c_str());
        // a PNG whose header declares 40000 x 40000: refused from the header, nothing decoded
        std::string png = readBytes(dir / "ok.png");
        auto be32 = [](std::uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
        png.replace(16, 8, be32(40000) + be32(40000));
        writeBytes(dir / "huge.png", png);
        const std::string h = errorOf([&] { io::loadRgbImage((dir / "huge.png").string()); });
        QVERIFY2(h.find("huge.png: image of 40000 x 40000 pixels exceeds the limit of 100 megapixels") != std::string::npos, h.c_str());
        writeBytes(dir / "junk.png", "\x89PNG\r\n\x1a\n garbage");
        QVERIFY(errorOf([&] { io::loadRgbImage((dir / "junk.png").string()); }).find("junk.png: corrupt PNG") != std::string::npos);
    }

    void twoImagesWithOneStemAreRefusedWhereOutputsAreNamedByStem() {
        const fs::path dir = fs::path(tmp_.path().toStdString()) / "stems";
        fs::create_directories(dir);
        cv::Mat img(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
        cv::imwrite((dir / "x.png").string(), img);
        cv::imwrite((dir / "x.jpg").string(), img);
        QCOMPARE(io::listImageFiles(dir.string()).size(), std::size_t(2));
        const std::string e = errorOf([&] { io::listImageFiles(dir.string(), true); });
        QVERIFY2(e.find("x.jpg and x.png have the same name stem 'x'") != std::string::npos, e.c_str());
    }

    void staleTemporariesOfDeadWritersAreRemoved() {
        const fs::path dir = fs::path(tmp_.path().toStdString()) / "store" / "relevance" / "set";
        fs::create_directories(dir);
        // a dead process of this host (fork + exit gives a PID that is certainly gone)
        const pid_t child = ::fork();
        if (child == 0) ::_exit(0);
        int status = 0;
        ::waitpid(child, &status, 0);
        const std::string mine = io::temporaryPathFor((dir / "a.safetensors").string());  // this live process
        const std::string host = mine.substr(mine.rfind(".tmp-") + 5, mine.rfind('-') - mine.rfind(".tmp-") - 5);
        const fs::path dead = dir / ("b.safetensors.tmp-" + host + "-" + std::to_string(child));
        const fs::path legacy = dir / ("c.safetensors.tmp-" + std::to_string(child));
        const fs::path other = dir / "d.safetensors.tmp-otherhost-1";
        for (const auto& p : {fs::path(mine), dead, legacy, other}) writeBytes(p, "partial");
        writeBytes(dir / "done.safetensors", "kept");
        QCOMPARE(io::removeStaleTemporaries((dir.parent_path().parent_path()).string()), 2);
        QVERIFY(fs::exists(mine));    // a live writer (a concurrent shard) keeps its file
        QVERIFY(fs::exists(other));   // another host's, younger than a day
        QVERIFY(!fs::exists(dead) && !fs::exists(legacy));
        QVERIFY(fs::exists(dir / "done.safetensors"));
    }

private:
    QTemporaryDir tmp_;
};

BIASSCOPE_REGISTER_TEST(TestInputFiles)
#include "TestInputFiles.moc"
