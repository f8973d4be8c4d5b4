// CelebA attribute files, stratified splits, CSV datasets and the train / eval transforms.
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <torch/types.h>

#include "TestRegistry.h"
#include "common/Error.h"
#include "data/BatchLoader.h"
#include "data/Datasets.h"
#include "data/SyntheticImage.h"
#include "data/Transforms.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {

void expectError(const std::function<void()>& f, const std::string& part) {
    try {
        f();
        QFAIL(("no error; expected one containing: " + part).c_str());
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find(part) != std::string::npos, e.what());
    }
}

}  // namespace

class TestDatasets : public QObject {
    Q_OBJECT
private slots:
    void nearestExactResizeEqualsTorch() {
        // data::nearestExactSourceIndex against LibTorch's own nearest-exact kernel (what torchvision's NEAREST_EXACT
        // runs) over every (in, out) pair up to 96 and the real geometries (CelebAMask-HQ 512 -> 256, Waterbirds,
        // the 64 -> 73 tie); OpenCV's INTER_NEAREST_EXACT is not this (2x downscale: 2i instead of 2i + 1)
        std::vector<std::pair<int, int>> pairs;
        for (int in = 1; in <= 96; ++in)
            for (int out = 1; out <= 96; ++out) pairs.emplace_back(in, out);
        for (auto p : {std::pair{512, 256}, {512, 292}, {1024, 256}, {64, 73}, {178, 256}, {218, 256}, {500, 256}, {375, 292}, {224, 256}, {300, 1000}})
            pairs.push_back(p);
        int mismatches = 0;
        for (const auto& [in, out] : pairs) {
            const at::Tensor x = torch::arange(in, torch::kFloat32).view({1, 1, 1, in});
            const at::Tensor y = at::_upsample_nearest_exact2d(x, {1, out}, c10::nullopt, c10::nullopt).view({out});
            const auto a = y.accessor<float, 1>();
            for (int i = 0; i < out; ++i)
                if (static_cast<std::int64_t>(a[i]) != data::nearestExactSourceIndex(i, in, out) && ++mismatches < 5)
                    qWarning("%d -> %d: index %d: torch %d, ours %lld", in, out, i, static_cast<int>(a[i]), static_cast<long long>(data::nearestExactSourceIndex(i, in, out)));
        }
        QCOMPARE(mismatches, 0);
        QCOMPARE(data::nearestExactSourceIndex(0, 512, 256), std::int64_t{1});  // 2i + 1
        // resizeNearestExact picks those rows and columns, for any channel count
        cv::Mat img(5, 7, CV_8UC3);
        for (int yy = 0; yy < 5; ++yy)
            for (int xx = 0; xx < 7; ++xx) img.at<cv::Vec3b>(yy, xx) = cv::Vec3b(static_cast<uchar>(xx), static_cast<uchar>(yy), 9);
        const cv::Mat r = data::resizeNearestExact(img, 3, 11);
        for (int yy = 0; yy < 11; ++yy)
            for (int xx = 0; xx < 3; ++xx)
                QCOMPARE(r.at<cv::Vec3b>(yy, xx), cv::Vec3b(static_cast<uchar>(data::nearestExactSourceIndex(xx, 7, 3)), static_cast<uchar>(data::nearestExactSourceIndex(yy, 5, 11)), 9));
    }

    void stratifiedSplitKeepsClassRatios() {
        std::vector<int> labels(700, 0);
        labels.resize(1000, 1);
        const auto s = data::stratifiedSplit(labels, 42);
        QCOMPARE(s.train.size(), std::size_t(800));
        QCOMPARE(s.val.size(), std::size_t(100));
        QCOMPARE(s.test.size(), std::size_t(100));
        auto ones = [&](const std::vector<std::size_t>& idx) {
            int n = 0;
            for (auto i : idx) n += labels[i];
            return n;
        };
        QCOMPARE(ones(s.train), 240);
        QCOMPARE(ones(s.val), 30);
        QCOMPARE(ones(s.test), 30);
        QCOMPARE(data::stratifiedSplit(labels, 42).val, s.val);  // deterministic
        QVERIFY(data::stratifiedSplit(labels, 7).val != s.val);   // and seeded
    }

    void celebAAttributesAndErrorsNameTheLine() {
        QTemporaryDir tmp;
        const fs::path root(tmp.path().toStdString());
        fs::create_directories(root / "img_align_celeba");
        std::ofstream a(root / "list_attr_celeba.txt");
        a << "10\nSmiling Male Young\n";
        for (int i = 0; i < 10; ++i) {
            const std::string f = "00000" + std::to_string(i) + ".jpg";
            cv::imwrite((root / "img_align_celeba" / f).string(), data::makeSyntheticImage(20, 24, static_cast<std::uint64_t>(i)));
            a << f << "  " << (i % 2 ? "1" : "-1") << " " << (i < 4 ? "1" : "-1") << " 1\n";
        }
        a.close();
        const auto d = data::loadCelebA(root.string(), "Male", 42);
        QCOMPARE(d.train.size() + d.val.size() + d.test.size(), std::size_t(10));
        QCOMPARE(d.train.classNames[1], std::string("Male"));
        expectError([&] { data::loadCelebA(root.string(), "Bald", 42); }, "no attribute 'Bald'");
        std::ofstream bad(root / "list_attr_celeba.txt");
        bad << "2\nSmiling Male Young\n000000.jpg 1 -1 1\n000001.jpg 1 0 1\n";
        bad.close();
        expectError([&] { data::loadCelebA(root.string(), "Male", 42); }, "list_attr_celeba.txt:4: attribute 'Male' is '0'");
        std::ofstream bad2(root / "list_attr_celeba.txt");
        bad2 << "2\nSmiling Male Young\n000000.jpg 1 -1\n";
        bad2.close();
        expectError([&] { data::loadCelebA(root.string(), "Male", 42); }, "list_attr_celeba.txt:3: 2 values, expected 3");
        std::ofstream part(root / "list_eval_partition.txt");
        part << "000000.jpg 0\n000001.jpg 3\n";
        part.close();
        std::ofstream ok(root / "list_attr_celeba.txt");
        ok << "2\nSmiling Male Young\n000000.jpg 1 -1 1\n000001.jpg 1 1 1\n";
        ok.close();
        expectError([&] { data::loadCelebA(root.string(), "Male", 42); }, "list_eval_partition.txt:2: expected '<file> 0|1|2'");
        std::ofstream twice(root / "list_eval_partition.txt");
        twice << "000000.jpg 0\n000001.jpg 1\n000000.jpg 2\n";  // was: the last line won silently
        twice.close();
        expectError([&] { data::loadCelebA(root.string(), "Male", 42); }, "list_eval_partition.txt:3: '000000.jpg' listed twice");
        std::ofstream good(root / "list_eval_partition.txt");
        good << "000000.jpg 0\n000001.jpg 2\n";
        good.close();
        const auto split = data::readCelebAPartition((root / "list_eval_partition.txt").string());
        QCOMPARE(split.size(), std::size_t(2));
        QCOMPARE(split.at("000001.jpg"), 2);
    }

    void csvDatasetWithNamedLabelsAndSplits() {
        QTemporaryDir tmp;
        const fs::path root(tmp.path().toStdString());
        std::ofstream c(root / "d.csv");
        c << "path,label,split\n";
        for (int i = 0; i < 6; ++i) c << "img" << i << ".png," << (i % 2 ? "cat" : "dog") << "," << (i < 4 ? "train" : i == 4 ? "val" : "test") << "\n";
        c.close();
        const auto d = data::loadCsvDataset((root / "d.csv").string(), 1);
        QCOMPARE(d.train.size(), std::size_t(4));
        QCOMPARE(d.train.classNames, (std::vector<std::string>{"cat", "dog"}));
        QCOMPARE(d.train.labels[0], 1);  // img0 = dog
        std::ofstream b(root / "b.csv");
        b << "file,label\nx.png,1\n";
        b.close();
        expectError([&] { data::loadCsvDataset((root / "b.csv").string(), 1); }, "b.csv:1: the header needs 'path' and 'label'");
    }

    void transformsAreSeededAndShaped() {
        const cv::Mat img = data::makeSyntheticImage(178, 218, 3);
        data::TransformOptions o;
        std::vector<float> a(3 * 224 * 224), b(a.size()), c(a.size());
        auto r1 = data::sampleRng(42, 1, 5), r2 = data::sampleRng(42, 1, 5), r3 = data::sampleRng(42, 2, 5);
        data::trainTransform(img, o, r1, a.data());
        data::trainTransform(img, o, r2, b.data());
        data::trainTransform(img, o, r3, c.data());
        QVERIFY(a == b);  // same (seed, epoch, index): same augmentation
        QVERIFY(a != c);  // another epoch: another one
        for (float v : a) QVERIFY(v >= -1.0001f && v <= 1.0001f);  // normalised with mean 0.5, std 0.5
        // crop boxes stay inside the image and within the published scale / ratio ranges
        auto rng = data::sampleRng(1, 0, 0);
        for (int i = 0; i < 200; ++i) {
            const cv::Rect box = data::randomResizedCropBox(178, 218, o, rng);
            QVERIFY(box.x >= 0 && box.y >= 0 && box.x + box.width <= 178 && box.y + box.height <= 218);
            const double area = static_cast<double>(box.area()) / (178.0 * 218.0), ratio = static_cast<double>(box.width) / box.height;
            QVERIFY2(area > 0.78 && area < 1.0001 && ratio > 0.88 && ratio < 1.12, qPrintable(QString("%1 %2").arg(area).arg(ratio)));
        }
        std::vector<float> e1(a.size()), e2(a.size());
        data::evalTransform(img, o, e1.data());
        data::evalTransform(img, o, e2.data());
        QVERIFY(e1 == e2);
    }

    void loaderOrderDoesNotDependOnWorkers() {
        QTemporaryDir tmp;
        const fs::path root(tmp.path().toStdString());
        data::LabelledImages d;
        d.classNames = {"a", "b"};
        for (int i = 0; i < 23; ++i) {
            const std::string f = (root / ("i" + std::to_string(i) + ".png")).string();
            cv::imwrite(f, data::makeSyntheticImage(40, 40, static_cast<std::uint64_t>(i)));
            d.files.push_back(f);
            d.labels.push_back(i % 2);
        }
        data::LoaderOptions o;
        o.batchSize = 5;
        o.transform.size = 32;
        std::vector<at::Tensor> one, four;
        for (int workers : {1, 4}) {
            o.workers = workers;
            data::BatchLoader l(d, o);
            QCOMPARE(l.batches(), std::size_t(5));
            while (auto b = l.next()) (workers == 1 ? one : four).push_back(b->pixels.clone());
        }
        QCOMPARE(one.size(), four.size());
        for (std::size_t i = 0; i < one.size(); ++i) QVERIFY(torch::equal(one[i], four[i]));
        QCOMPARE(one.back().size(0), std::int64_t(3));  // 23 = 4 x 5 + 3
    }
};

BIASSCOPE_REGISTER_TEST(TestDatasets)
#include "TestDatasets.moc"
