// biasscope: the desktop application. Thin wiring: options -> MainWindow.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QMessageBox>
#include <QStandardPaths>
#include <QTimer>

#include "DemoLauncher.h"
#include "MainWindow.h"
#include "common/Device.h"
#include "common/BlasKernels.h"

int main(int argc, char** argv) {
    biasscope::reexecWithBetterBlasKernels(argv);
    QApplication app(argc, argv);
    QApplication::setApplicationName("BiasScope");
    QApplication::setApplicationVersion(BIASSCOPE_VERSION);
    QCommandLineParser parser;
    parser.setApplicationDescription("BiasScope: neuron-level bias analysis of vision models");
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption model("model", "Model to open (HF directory, .safetensors or .pth).", "path");
    QCommandLineOption image("image", "Image to open.", "path");
    QCommandLineOption target("target", "Class index to show.", "index");
    QCommandLineOption device("device", "auto, cpu or cuda[:N] (default auto).", "device", "auto");
    QCommandLineOption demo("demo", "Open the built-in planted-bias demo in this folder (built on first use, cached).", "dir");
    QCommandLineOption bias("bias", "Planted bias of the demo: 0.5 none ... 1.0 full (default 0.95).", "p", "0.95");
    QCommandLineOption screenshot("screenshot", "Compute, save a screenshot of the window to this PNG and exit.", "png");
    parser.addOptions({model, image, target, device, demo, bias, screenshot});
    parser.process(app);

    biasscope::configureCpuThreads(0);
    biasscope::ui::MainWindow window;
    if (parser.isSet(device)) window.setDevice(parser.value(device));  // else the saved setting
    window.show();
    const bool haveBoth = (parser.isSet(model) && parser.isSet(image)) || parser.isSet(demo);
    const bool nothingToOpen = !parser.isSet(model) && !parser.isSet(image) && !parser.isSet(demo) && !parser.isSet(screenshot);
    if (nothingToOpen) {
        // first start without a project: offer the built-in demo (made here, no downloads; cached)
        const QString dir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + "/demo";
        const bool built = QFileInfo::exists(dir + "/demo-study.json");
        if (QMessageBox::question(&window, "BiasScope", built ? "Open the built-in planted-bias demo?"
                                                              : "Open the built-in planted-bias demo? It is made on this machine "
                                                                "(images, a small ViT trained on them; about a minute), then cached.") ==
            QMessageBox::Yes) {
            QObject::connect(&window, &biasscope::ui::MainWindow::modelReady, &window, [&] { window.compute(); });
            biasscope::ui::launchDemo(window, dir, 0.95);
        }
    }
    if (parser.isSet(demo)) {
        QObject::connect(&window, &biasscope::ui::MainWindow::modelReady, &window, [&] { window.compute(); });
        biasscope::ui::launchDemo(window, parser.value(demo), parser.value(bias).toDouble());
    }
    if (parser.isSet(image)) window.openImage(parser.value(image));
    if (parser.isSet(model)) {
        QObject::connect(&window, &biasscope::ui::MainWindow::modelReady, &window, [&] {
            if (parser.isSet(target)) window.selectTarget(parser.value(target).toInt());
            if (haveBoth) window.compute();
        });
        window.openModel(parser.value(model));
    }
    if (parser.isSet(screenshot)) {
        auto save = [&] {
            window.grab().save(parser.value(screenshot));
            app.quit();
        };
        QObject::connect(&window, &biasscope::ui::MainWindow::relevanceReady, &window, [save] { QTimer::singleShot(200, save); });
        QObject::connect(&window, &biasscope::ui::MainWindow::failed, &window, [&](const QString& m) {
            qCritical("%s", qPrintable(m));
            app.exit(1);
        });
        if (!haveBoth) QTimer::singleShot(500, save);
    }
    return app.exec();
}
