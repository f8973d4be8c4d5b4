// The training panel driven as a user would: a run in the worker thread plots every epoch live;
// cancelling keeps the last finished epoch's checkpoint (nothing half-written) and Start resumes.
#include <QDir>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "MainWindow.h"
#include "TrainingPanel.h"
#include "data/SyntheticImage.h"

using namespace biasscope;
namespace fs = std::filesystem;

class TestTrainingPanel : public QObject {
    Q_OBJECT
private slots:
    void trainsLiveCancelsAndResumes() {
        QTemporaryDir tmp;
        const fs::path root(tmp.path().toStdString());
        data::writeColourDiscDataset((root / "data").string(), 40, 9);
        ui::MainWindow w;
        w.resize(1200, 800);
        w.show();
        w.showTab(1);
        ui::TrainingPanel* p = w.trainingPanel();
        ui::TrainRequest r;
        r.dataKind = "folder";
        r.root = QString::fromStdString((root / "data").string());
        r.config = QStringLiteral(BIASSCOPE_TEST_DATA) + "/tiny-vit/config.json";
        r.outDir = QString::fromStdString((root / "run").string());
        r.device = "cpu";
        r.options.mode = train::TrainMode::Head;
        r.options.epochs = 400;  // long enough to be cancelled
        r.options.batchSize = 8;
        r.options.lr = 1e-2;
        r.options.patience = 1000;
        p->setRequest(r);
        QCOMPARE(p->request().root, r.root);  // the form round-trips

        QSignalSpy epochs(p, &ui::TrainingPanel::epochDone), done(p, &ui::TrainingPanel::finished);
        p->start();
        QVERIFY(p->busy());
        QVERIFY(epochs.wait(30000));  // the UI thread keeps running its event loop while the worker trains
        p->cancel();
        QVERIFY(done.count() == 1 || done.wait(30000));
        QCOMPARE(done.takeFirst().at(0).toBool(), false);
        QVERIFY2(p->statusText().contains("Cancelled"), qPrintable(p->statusText()));
        const fs::path last = root / "run/last";
        std::ifstream in(last / "state.json");
        const auto state = nlohmann::json::parse(in);
        const int finished = state.at("epoch").get<int>();
        QVERIFY(finished >= 1);
        for (const auto& e : fs::directory_iterator(last)) QVERIFY2(e.path().string().find(".tmp") == std::string::npos, e.path().c_str());

        // Start again with a short budget: it resumes from the kept checkpoint and finishes
        r.options.epochs = finished + 2;
        p->setRequest(r);
        p->start();
        QVERIFY(done.wait(60000));
        QCOMPARE(done.takeFirst().at(0).toBool(), true);
        QCOMPARE(p->plottedEpochs(), finished + 2);  // the kept epochs are shown again, then two more ran
        QVERIFY2(p->statusText().startsWith("Done"), qPrintable(p->statusText()));
        QVERIFY(fs::exists(root / "run/best/model.safetensors"));

        QDir().mkpath(BIASSCOPE_SCREENSHOT_DIR);
        QVERIFY(w.grab().save(QString(BIASSCOPE_SCREENSHOT_DIR) + "/training-panel.png"));

        // bad input: named in the panel, nothing crashes
        r.root = QString::fromStdString((root / "absent").string());
        p->setRequest(r);
        p->start();
        QVERIFY(done.wait(30000));
        QVERIFY2(p->statusText().contains("absent") && p->statusText().startsWith("Error"), qPrintable(p->statusText()));
    }
};

QTEST_MAIN(TestTrainingPanel)
#include "TestTrainingPanel.moc"
