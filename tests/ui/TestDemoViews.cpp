// Every view filled on the built-in demo (the planted-bias benchmark at bias 0.95, built by
// core.TestPlantedBiasDemo into BIASSCOPE_DEMO_FIXTURE): launchDemo finds it cached, opens the class
// model and a test image, the training run, the study store in the explorer and an Attention-IoU run
// on the demo data. Screenshots of every view go to the screenshot folder (docs/screenshots).
#include <QDir>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTabWidget>
#include <QtTest/QtTest>

#include "AttentionPanel.h"
#include "DemoLauncher.h"
#include "MainWindow.h"
#include "StudyExplorer.h"
#include "TableModels.h"
#include "TrainingPanel.h"

using namespace biasscope;

class TestDemoViews : public QObject {
    Q_OBJECT
    void shot(QWidget& w, const QString& name) {
        QDir().mkpath(BIASSCOPE_SCREENSHOT_DIR);
        QVERIFY(w.grab().save(QString(BIASSCOPE_SCREENSHOT_DIR) + "/" + name));
    }
private slots:
    void everyViewFilled() {
        // under CTest (BIASSCOPE_DEMO_FIXTURE set by the fixture) a missing demo is a failure, by hand a skip
        if (!qEnvironmentVariableIsSet("BIASSCOPE_DEMO_FIXTURE")) QSKIP("no demo fixture (run core.TestPlantedBiasDemo first; CTest does)");
        const QString dir = qEnvironmentVariable("BIASSCOPE_DEMO_FIXTURE") + "/b95s1";
        QVERIFY2(QFileInfo::exists(dir + "/demo-study.json"), qPrintable(dir + "/demo-study.json: missing (core.TestPlantedBiasDemo makes it)"));
        ui::MainWindow w;
        w.resize(1400, 900);
        w.show();
        QSignalSpy store(w.studyExplorer(), &ui::StudyExplorer::storeOpened);
        QSignalSpy scores(w.attentionPanel(), &ui::AttentionPanel::scoresFinished);
        QSignalSpy relevance(&w, &ui::MainWindow::relevanceReady);
        ui::launchDemo(w, dir, 0.95);
        QVERIFY(store.wait(300000));
        QVERIFY(store.takeFirst().at(0).toBool());
        QVERIFY(scores.count() > 0 || scores.wait(300000));
        QVERIFY2(scores.takeFirst().at(0).toBool(), qPrintable(w.attentionPanel()->statusText()));
        if (relevance.count() == 0) {
            w.compute();
            QVERIFY(relevance.wait(60000));
        }

        // the explorer: 4 sets x 60 test images, the analysis tables loaded
        ui::StudyExplorer* e = w.studyExplorer();
        QCOMPARE(e->visibleImages(), 240);
        QVERIFY(e->heatLimit() > 0);
        e->significance()->setMaxQ(1.0);
        QVERIFY(e->significanceRows() > 0);
        QSignalSpy neuron(e, &ui::StudyExplorer::neuronReady);
        e->selectNeuron(3, 10);
        QVERIFY(neuron.wait(60000));
        QCOMPARE(e->profilePoints(), 240);
        // the feathered counterpart of the open image (circle/test_circle_0 <-> masked_circle/test_circle_0)
        const int other = e->counterpart(e->currentImage());
        QVERIFY(other >= 0);
        QCOMPARE(e->counterpart(other), e->currentImage());

        // the Attention-IoU tab: the run's table (same, different, all + uniform)
        QCOMPARE(w.attentionPanel()->resultCount(), 1);
        QCOMPARE(w.attentionPanel()->tableRows(), 4);
        QSignalSpy img(w.attentionPanel(), &ui::AttentionPanel::imageReady);
        for (int i = 10; i < 40; ++i) {  // an image whose map has positive evidence (some are all-zero, with a warning)
            w.attentionPanel()->showImage(i);
            QVERIFY(img.wait(60000));
            if (!w.attentionPanel()->imageScoresText().contains("all-zero")) break;
        }

        // the Training tab shows the demo's run
        QVERIFY(w.trainingPanel()->plottedEpochs() > 0);

        for (int i = 0; i < 20; ++i) QTest::qWait(50);  // thumbnails decode in the thread pool
        w.showTab(0);
        shot(w, "demo-relevance-view.png");
        w.showTab(1);
        shot(w, "demo-training.png");
        w.showTab(2);
        for (int t = 0; t < 3; ++t) {
            w.attentionPanel()->tabs()->setCurrentIndex(t);
            shot(w, QString("demo-attention-%1.png").arg(t));
        }
        w.showTab(3);
        QTest::qWait(300);
        for (int t = 0; t < 3; ++t) {
            e->analysisTabs()->setCurrentIndex(t);
            shot(w, QString("demo-explorer-%1.png").arg(t));
        }
    }
};

QTEST_MAIN(TestDemoViews)
#include "TestDemoViews.moc"
