// The Waterbirds result of the Attention-IoU paper on the built-in demo: Attention-IoU of the class
// map with the background rises with the planted bias across 0.5 / 0.8 / 0.95. As in the paper (a mean
// over trained models per bias), the mean over three models per bias (seeds 1-3: data, initialisation
// and training) is asserted; single models are bimodal at 0.8 (a model either keeps the object or goes
// over to the background). The margins come from the spread across kernels, builds and seeds
// (docs/demo.md, "Spread"). The measures are those the fixture tests took (study::measureDemoCached).
#include <QtTest/QtTest>
#include <filesystem>

#include "DemoFixture.h"
#include "TestRegistry.h"
#include "study/Demo.h"
#include "study/DemoChecks.h"

using namespace biasscope;
namespace fs = std::filesystem;

class TestPlantedBiasGradient : public QObject {
    Q_OBJECT
private slots:
    void attentionIoURisesWithTheBias() {
        std::map<int, double> background, object;
        for (int b : {50, 80, 95}) {
            for (std::uint64_t seed : {1, 2, 3}) {
                const auto o = test::demoModel(b, seed);
                const auto d = study::measureDemoCached(o.outDir);
                qInfo("bias %.2f seed %d: accuracy %.3f, Attention-IoU background %.3f object %.3f, context effect %.3f", o.bias, static_cast<int>(seed), d.accuracy,
                      d.iouBackground, d.iouObject, d.contextEffect());
                background[b] += d.iouBackground / 3;
                object[b] += d.iouObject / 3;
            }
            qInfo("bias %.2f: mean Attention-IoU background %.3f object %.3f", b / 100.0, background[b], object[b]);
        }
        auto report = [](double a, double b) { return qPrintable(QString("%1 vs %2").arg(a).arg(b)); };
        // what holds on every kernel and build measured (docs/demo.md): the rise from 0.8 to 0.95, and 0.8 not
        // below 0.5 beyond the noise; whether 0.8 already rises above 0.5 depends on the kernel (not asserted)
        QVERIFY2(background[95] > background[80] + kRiseTo95, report(background[95], background[80]));
        QVERIFY2(background[80] > background[50] - kMiddleTolerance, report(background[80], background[50]));
        QVERIFY2(object[95] < object[50] - kObjectFall, report(object[95], object[50]));
    }

private:
    // from the spread across kernels, builds and seeds (docs/demo.md, "Spread")
    static constexpr double kRiseTo95 = 0.2;
    static constexpr double kMiddleTolerance = 0.05;
    static constexpr double kObjectFall = 0.06;  // 0.5 - 0.95: smallest difference of the means 0.134
};

BIASSCOPE_REGISTER_TEST(TestPlantedBiasGradient)
#include "TestPlantedBiasGradient.moc"
