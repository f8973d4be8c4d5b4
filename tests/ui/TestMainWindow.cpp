// The first GUI slice, driven as a user would: open model and image, compute in the worker thread,
// switch target and site, and keep a screenshot (build/screenshots) that is looked at.
#include <QComboBox>
#include <QDir>
#include <QSet>
#include <QSignalSpy>

#include <qcustomplot.h>

#include "FaithfulnessDialog.h"
#include <QtTest/QtTest>

#include "MainWindow.h"

using biasscope::ui::MainWindow;

namespace {
const QString data = QStringLiteral(BIASSCOPE_TEST_DATA);

int distinctColours(const QImage& img) {
    QSet<QRgb> colours;
    for (int y = 0; y < img.height(); y += 3)
        for (int x = 0; x < img.width(); x += 3) colours.insert(img.pixel(x, y));
    return colours.size();
}
}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
private slots:
    void computesInWorkerAndShowsMaps() {
        MainWindow w;
        w.resize(1200, 720);
        w.show();
        QSignalSpy ready(&w, &MainWindow::modelReady);
        w.openModel(data + "/tiny-vit");
        QVERIFY(ready.wait(30000));
        QCOMPARE(w.targetCount(), 5);
        QVERIFY(w.openImage(data + "/golden-image.png"));
        w.selectTarget(3);
        QSignalSpy done(&w, &MainWindow::relevanceReady);
        w.compute();
        QVERIFY(w.busy() || done.count() == 1);
        QVERIFY(done.wait(60000));
        QVERIFY(!w.busy());
        QVERIFY(w.heatmapLimit() > 0);
        QVERIFY(w.neuronMapAbsMax() > 0);
        QVERIFY2(w.statusText().contains("logit"), qPrintable(w.statusText()));
        const double intermediate = w.neuronMapAbsMax();
        w.selectSite("final");
        QVERIFY(w.neuronMapAbsMax() > 0 && w.neuronMapAbsMax() != intermediate);
        w.selectSite("intermediate");
        w.selectTarget(0);  // no recomputation needed: all targets were batched
        QVERIFY(!w.busy());
        QVERIFY(w.heatmapLimit() > 0);

        QDir().mkpath(BIASSCOPE_SCREENSHOT_DIR);
        const QImage shot = w.grab().toImage();
        QVERIFY(shot.save(QString(BIASSCOPE_SCREENSHOT_DIR) + "/main-window.png"));
        QVERIFY2(distinctColours(shot) > 50, "screenshot looks blank");

        // pixel flipping of the same model, image and target, in a worker: both curves of every map kind
        biasscope::ui::FaithfulnessDialog* d = w.openFaithfulness();
        QVERIFY(d);
        QSignalSpy flipped(d, &biasscope::ui::FaithfulnessDialog::finished);
        d->start();
        QVERIFY(d->running() || flipped.count() == 1);
        QVERIFY(flipped.count() == 1 || flipped.wait(60000));
        QVERIFY2(flipped.takeFirst().at(0).toBool(), qPrintable(d->statusText()));
        QCOMPARE(d->results().size(), biasscope::explain::allFaithfulnessMaps().size());
        QCOMPARE(d->plot()->graphCount(), 2 * static_cast<int>(biasscope::explain::allFaithfulnessMaps().size()));
        QVERIFY2(d->statusText().contains("ABPC"), qPrintable(d->statusText()));
        d->resize(900, 560);
        QVERIFY(d->grab().save(QString(BIASSCOPE_SCREENSHOT_DIR) + "/pixel-flipping.png"));
        // cancel: the previous curves stay
        d->start();
        d->cancel();
        QVERIFY(flipped.wait(60000));
        QCOMPARE(d->plot()->graphCount(), 2 * static_cast<int>(biasscope::explain::allFaithfulnessMaps().size()));
        d->close();
    }

    void badModelIsReportedAndPreviousModelKept() {
        MainWindow w;
        w.show();
        QSignalSpy ready(&w, &MainWindow::modelReady);
        w.openModel(data + "/tiny-vit");
        QVERIFY(ready.wait(30000));
        QSignalSpy failed(&w, &MainWindow::failed);
        w.openModel(data + "/does-not-exist.safetensors");
        QVERIFY(failed.wait(30000));
        QVERIFY2(failed.first().first().toString().contains("does-not-exist.safetensors"), qPrintable(failed.first().first().toString()));
        QCOMPARE(w.targetCount(), 5);  // the loaded model is still there
        QVERIFY(!w.openImage(data + "/tiny-vit/config.json"));
    }
};

QTEST_MAIN(TestMainWindow)
#include "TestMainWindow.moc"
