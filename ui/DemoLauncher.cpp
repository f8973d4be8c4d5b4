#include "DemoLauncher.h"

#include <QFutureWatcher>
#include <QMessageBox>
#include <QProgressDialog>
#include <QtConcurrent>
#include <atomic>
#include <memory>

#include "AttentionPanel.h"
#include "MainWindow.h"
#include "StudyExplorer.h"
#include "TrainingPanel.h"
#include "study/Demo.h"

namespace biasscope::ui {

void launchDemo(MainWindow& window, const QString& demoDir, double bias) {
    auto* dialog = new QProgressDialog("Preparing the built-in demo (planted-bias images, training a ViT on them)…", "Cancel", 0, 1000, &window);
    dialog->setWindowTitle("BiasScope demo");
    dialog->setMinimumDuration(0);
    dialog->setAutoClose(false);
    dialog->setAutoReset(false);
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    QObject::connect(dialog, &QProgressDialog::canceled, dialog, [cancel] { cancel->store(true); });
    auto* watcher = new QFutureWatcher<QString>(&window);
    study::DemoOptions o;
    o.outDir = demoDir.toStdString();
    o.bias = bias;
    watcher->setFuture(QtConcurrent::run([o, cancel, dialog]() -> QString {
        try {
            JobControl job;
            job.cancel = cancel.get();
            job.progress = [dialog](double f, const std::string& stage) {
                QMetaObject::invokeMethod(dialog, [dialog, f, s = QString::fromStdString(stage)] {
                    dialog->setValue(static_cast<int>(f * 1000));
                    dialog->setLabelText(s);
                }, Qt::QueuedConnection);
            };
            const auto paths = study::buildDemo(o, job);
            // the demo's study (relevance store + analysis) for the explorer
            JobControl studyJob = job;
            studyJob.progress = [dialog](double f, const std::string& stage) {
                QMetaObject::invokeMethod(dialog, [dialog, f, s = QString::fromStdString(stage)] {
                    dialog->setValue(static_cast<int>(f * 1000));
                    dialog->setLabelText("Demo study: " + s);
                }, Qt::QueuedConnection);
            };
            study::runDemoStudy(o, paths, studyJob);
            return {};
        } catch (const std::exception& e) {
            return QString::fromStdString(e.what());
        }
    }));
    QObject::connect(watcher, &QFutureWatcher<QString>::finished, &window, [watcher, dialog, &window, demoDir] {
        const QString error = watcher->result();
        dialog->close();
        dialog->deleteLater();
        watcher->deleteLater();
        if (!error.isEmpty()) {
            QMessageBox::warning(&window, "BiasScope demo", "The demo could not be prepared: " + error);
            return;
        }
        window.trainingPanel()->showRun(demoDir + "/models/class");
        window.studyExplorer()->openStore(demoDir + "/store");
        // study 2 on the demo: GradCAM of the demo ViT against the exact object / background masks
        attention::AttentionRunOptions a;
        a.dataset = "waterbirds";
        a.root = (demoDir + "/data").toStdString();
        a.models = {(demoDir + "/models/class/best").toStdString()};
        a.size = 64;
        a.outDir = (demoDir + "/attention").toStdString();
        window.attentionPanel()->setRequest(a);
        window.attentionPanel()->runScores();
        window.openImage(demoDir + "/data/test/triangle/test_triangle_1.png");  // a triangle on land: the context disagrees with the class
        window.openModel(demoDir + "/models/class/best");
    });
}

}  // namespace biasscope::ui
