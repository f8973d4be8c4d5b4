// Study-2 data: the published numpy split (against numpy itself), CelebAMask-HQ attribute files and
// label-map masks, the Waterbirds layout (on the planted-bias generator's output), and their errors.
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <torch/types.h>

#include "TestFixtures.h"
#include "TestRegistry.h"
#include "common/Error.h"
#include "data/AttentionData.h"
#include "data/PlantedBias.h"
#include "io/Safetensors.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {
void writeText(const fs::path& p, const std::string& s) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << s;
}
}  // namespace

class TestAttentionData : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    fs::path dir() const { return fs::path(tmp_.path().toStdString()); }
private slots:
    void numpySplitPermutation() {
        std::map<std::string, at::Tensor> g;
        for (auto& [k, t] : io::readSafetensors(test::dataPath("gradcam/golden.safetensors")).tensors) g[k] = t;
        const auto perm = data::numpyPermutation(30000, 0);
        QCOMPARE(perm.size(), std::size_t{30000});
        for (int i = 0; i < 100; ++i) {
            QCOMPARE(perm[static_cast<std::size_t>(i)], g.at("perm_head")[i].item<std::int64_t>());
            QCOMPARE(perm[static_cast<std::size_t>(29900 + i)], g.at("perm_tail")[i].item<std::int64_t>());
        }
        unsigned __int128 sum = 0;
        for (std::size_t i = 0; i < perm.size(); ++i) sum += static_cast<unsigned __int128>(i) * static_cast<unsigned __int128>(perm[i]);
        QCOMPARE(static_cast<std::int64_t>(sum % (static_cast<unsigned __int128>(1) << 61)), g.at("perm_checksum")[0].item<std::int64_t>());
    }

    void tablesAndGroups() {
        QCOMPARE(data::celebAttributeNames().size(), std::size_t{40});
        QCOMPARE(data::celebAttributeNames()[20], std::string("Male"));
        QCOMPARE(data::celebMaskGroups().size(), std::size_t{14});
        QCOMPARE(data::maskGroupIndex("eyes"), 4);
        QCOMPARE(data::maskGroupIndex("hair"), 8);
        QCOMPARE(data::attributeMaskGroup().size(), std::size_t{17});
        QCOMPARE(data::attributeMaskGroup().at("Eyeglasses"), std::string("eyes"));  // not "eyeglasses", as published
    }

    void celebAMaskHQTree() {
        const fs::path root = dir() / "celebamask";
        std::string csv = "filename Eyeglasses Male\n", txt = "12\nEyeglasses Male\n";
        for (int i = 0; i < 12; ++i) {
            const std::string f = std::to_string(i) + ".jpg";
            csv += f + (i % 3 == 0 ? " 1" : " -1") + (i % 2 ? " 1\n" : " -1\n");
            txt += f + (i % 3 == 0 ? "  1" : " -1") + (i % 2 ? "  1\n" : " -1\n");
            fs::create_directories(root / "CelebA-HQ-img");
            cv::imwrite((root / "CelebA-HQ-img" / f).string(), cv::Mat(32, 32, CV_8UC3, cv::Scalar(i * 10, 50, 90)));
        }
        writeText(root / "CelebAMask-HQ-attribute-anno.csv", csv);
        const auto d = data::loadCelebAMaskHQ(root.string());
        QCOMPARE(d.attributes.names, (std::vector<std::string>{"Eyeglasses", "Male"}));
        QCOMPARE(d.attributes.labels("Eyeglasses")[3], 1);
        QCOMPARE(d.attributes.labels("Male")[3], 1);
        QCOMPARE(d.attributes.labels("Male")[4], 0);
        // published: perm[:int(12 * 0.7)], perm[8:int(12 * 0.85)], perm[int(12 * (1 - 0.15)):] = 8 / 2 / 2
        QCOMPARE(d.indices(data::Split::Train).size(), std::size_t{8});
        QCOMPARE(d.indices(data::Split::Val).size(), std::size_t{2});
        QCOMPARE(d.indices(data::Split::Test).size(), std::size_t{2});
        const auto train = d.indices(data::Split::Train);
        QVERIFY(std::is_sorted(train.begin(), train.end()));  // ascending index order, as published
        QVERIFY2(QString::fromStdString(d.splitSource).contains("test perm[10:]"), d.splitSource.c_str());
        // the original .txt format reads the same
        const auto t = data::readAttributeTable((writeText(root / "orig.txt", txt), (root / "orig.txt").string()));
        QCOMPARE(t.values, d.attributes.values);
        // errors name file and line
        writeText(root / "bad.csv", "filename Eyeglasses Male\n0.jpg 1 -1\n1.jpg 1\n");
        QVERIFY(test::errorOf([&] { data::readAttributeTable((root / "bad.csv").string()); }).find("bad.csv:3") != std::string::npos);
        writeText(root / "bad2.csv", "filename Eyeglasses\n0.jpg 2\n");
        QVERIFY(test::errorOf([&] { data::readAttributeTable((root / "bad2.csv").string()); }).find("bad2.csv:2") != std::string::npos);
        QVERIFY(test::errorOf([&] { d.attributes.labels("Smiling"); }).find("Smiling") != std::string::npos);
        // a listed image that is missing
        writeText(root / "missing" / "CelebAMask-HQ-attribute-anno.csv", "filename Male\n404.jpg 1\n");
        fs::create_directories(root / "missing" / "CelebA-HQ-img");
        QVERIFY(test::errorOf([&] { data::loadCelebAMaskHQ((root / "missing").string()); }).find("404.jpg") != std::string::npos);
    }

    void labelMapGroupMasks() {
        // 256x256 label map: left half hair (13), right half split into l_eye (4) and r_eye (5) rows
        cv::Mat m(256, 256, CV_8U, cv::Scalar(13));
        m(cv::Rect(128, 0, 128, 128)).setTo(4);
        m(cv::Rect(128, 128, 128, 128)).setTo(5);
        const std::string path = (dir() / "0.png").string();
        cv::imwrite(path, m);
        const at::Tensor g = data::celebGroupMasks(path, 224);
        QCOMPARE(g.sizes().vec(), (std::vector<std::int64_t>{14, 224, 224}));
        QCOMPARE(g.sum(0).min().item<float>(), 1.f);  // the parts are exclusive: one group per pixel
        QCOMPARE(g[8].sum().item<float>() + g[4].sum().item<float>(), 224.f * 224.f);
        QCOMPARE(g[4][0][223].item<float>(), 1.f);      // l_eye and r_eye both in "eyes"
        QCOMPARE(g[4][223][223].item<float>(), 1.f);
        QCOMPARE(g[8][100][0].item<float>(), 1.f);
        QCOMPARE(g[4].sum().item<float>(), 224.f * 112.f);  // resize 256 -> 256, crop 16 + 224: half the width
        cv::Mat bad(8, 8, CV_8U, cv::Scalar(30));
        cv::imwrite((dir() / "bad.png").string(), bad);
        QVERIFY(test::errorOf([&] { data::celebGroupMasks((dir() / "bad.png").string(), 224); }).find("bad.png") != std::string::npos);
        QVERIFY(test::errorOf([&] { data::celebGroupMasks((dir() / "none.png").string(), 224); }).find("none.png") != std::string::npos);
    }

    void waterbirdsLayout() {
        const fs::path root = dir() / "wb";
        data::PlantedBiasOptions o;
        o.trainPerClass = 6, o.valPerClass = 2, o.testPerClass = 3, o.size = 32;
        data::writePlantedBiasDataset(root.string(), o);
        const auto d = data::loadWaterbirds(root.string());
        QCOMPARE(d.files.size(), std::size_t{22});
        QCOMPARE(d.indices(data::Split::Test).size(), std::size_t{6});
        const auto i = d.indices(data::Split::Test)[0];
        const at::Tensor m = data::waterbirdsMasks(d.maskPath(i), 32);
        QCOMPARE(m.sizes().vec(), (std::vector<std::int64_t>{2, 32, 32}));
        QVERIFY((m[0] + m[1] - 1).abs().max().item<float>() < 1e-6);  // background = 1 - bird
        // the published to_grayscale of a white mask: 0.2989 + 0.587 + 0.114 = 0.9999, not 1
        QVERIFY2(std::abs(m[1].max().item<float>() - 0.9999f) < 1e-6, qPrintable(QString::number(m[1].max().item<float>(), 'g', 9)));
        QVERIFY(m[1].sum().item<float>() > 10);                       // the object is there
        QCOMPARE(data::attentionEvalImage(d.imagePath(i), 32).sizes().vec(), (std::vector<std::int64_t>{3, 32, 32}));
        // errors
        writeText(root / "bad1" / "metadata.csv", "img_filename,y,split\n");
        QVERIFY(test::errorOf([&] { data::loadWaterbirds((root / "bad1").string()); }).find("'place'") != std::string::npos);
        writeText(root / "bad2" / "metadata.csv", "img_filename,y,place,split\na.jpg,3,0,0\n");
        QVERIFY(test::errorOf([&] { data::loadWaterbirds((root / "bad2").string()); }).find("metadata.csv:2") != std::string::npos);
        writeText(root / "bad3" / "metadata.csv", "img_filename,y,place,split\nnone/a.jpg,1,0,0\n");
        QVERIFY(test::errorOf([&] { data::loadWaterbirds((root / "bad3").string()); }).find("none/a.jpg") != std::string::npos);
    }
};

BIASSCOPE_REGISTER_TEST(TestAttentionData)
#include "TestAttentionData.moc"
