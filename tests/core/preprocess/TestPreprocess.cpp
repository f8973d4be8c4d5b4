// Preprocessing equals Hugging Face's ViTImageProcessor (PIL bilinear resize, bit-exact).
#include <QtTest/QtTest>

#include <torch/types.h>

#include "TestRegistry.h"
#include "io/ImageIO.h"
#include "io/Safetensors.h"
#include "model/VitWeights.h"
#include "preprocess/ImagePreprocessor.h"

using namespace biasscope;
using test::dataPath;

namespace {
at::Tensor golden(const std::string& name) {
    for (auto& [k, v] : io::readSafetensors(dataPath("golden.safetensors")).tensors)
        if (k == name) return v;
    throw std::runtime_error("golden tensor missing: " + name);
}
at::Tensor matTensor(const cv::Mat& m) {
    return torch::from_blob(const_cast<uchar*>(m.ptr<uchar>()), {m.rows, m.cols, 3}, torch::kUInt8).clone();
}
}  // namespace

class TestPreprocess : public QObject {
    Q_OBJECT
private slots:
    void pilBilinearResizeIsBitExact() {
        const cv::Mat img = io::loadRgbImage(dataPath("golden-image.png"));
        QCOMPARE(img.cols, 48);
        QVERIFY(torch::equal(matTensor(preprocess::resizeBilinearPil(img, 32, 32)), golden("resized_32")));
        QVERIFY(torch::equal(matTensor(preprocess::resizeBilinearPil(img, 224, 224)), golden("resized_224")));
        QVERIFY(torch::equal(matTensor(preprocess::resizeBilinearPil(img, 17, 29)), golden("resized_17x29")));
    }

    void pixelsEqualHuggingFaceProcessor() {
        const auto m = model::loadVitModel(dataPath("tiny-vit"));
        const at::Tensor px = preprocess::vitPixels(io::loadRgbImage(dataPath("golden-image.png")), m.backbone.config);
        BIASSCOPE_COMPARE_TENSORS(px, golden("pixels"), 0.0, 1e-7);
    }

    void unreadableImageNamesTheFile() {
        try {
            io::loadRgbImage(dataPath("tiny-vit/config.json"));
            QFAIL("a JSON file decoded as an image");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("config.json") != std::string::npos);
        }
    }
};

BIASSCOPE_REGISTER_TEST(TestPreprocess)
#include "TestPreprocess.moc"
