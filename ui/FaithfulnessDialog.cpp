#include "FaithfulnessDialog.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <qcustomplot.h>

#include "ExportMenu.h"
#include "figures/FaithfulnessFigure.h"
#include "io/ImageIO.h"
#include "preprocess/ImagePreprocessor.h"

namespace biasscope::ui {

FaithfulnessDialog::FaithfulnessDialog(std::shared_ptr<const model::VitModel> model, QString imagePath, int classIndex, QString className, QWidget* parent)
    : QDialog(parent), model_(std::move(model)), imagePath_(std::move(imagePath)), className_(std::move(className)), classIndex_(classIndex),
      cancel_(std::make_shared<std::atomic<bool>>(false)) {
    setWindowTitle("Pixel flipping · " + QFileInfo(imagePath_).fileName() + " · " + className_);
    auto* layout = new QVBoxLayout(this);
    plot_ = new QCustomPlot;
    plot_->setMinimumSize(640, 380);
    layout->addWidget(plot_, 1);
    auto* row = new QHBoxLayout;
    status_ = new QLabel("Removes the image's patches most / least relevant first for every map kind (CP-LRP, AttnLRP, CP-LRP + Gamma, GradCAM, "
                         "random) and records the target logit. Not in the published study.");
    status_->setWordWrap(true);
    row->addWidget(status_, 1);
    progress_ = new QProgressBar;
    progress_->setRange(0, 1000);
    progress_->setMaximumWidth(200);
    row->addWidget(progress_);
    runButton_ = new QPushButton("Run");
    cancelButton_ = new QPushButton("Cancel");
    cancelButton_->setEnabled(false);
    row->addWidget(runButton_);
    row->addWidget(cancelButton_);
    layout->addLayout(row);
    connect(runButton_, &QPushButton::clicked, this, &FaithfulnessDialog::start);
    connect(cancelButton_, &QPushButton::clicked, this, &FaithfulnessDialog::cancel);
    installExportMenu(plot_, "faithfulness", [this] {
        QJsonObject p;
        p["view"] = "pixel flipping";
        p["image"] = imagePath_;
        p["target"] = className_;
        return p;
    });
    connect(&watcher_, &QFutureWatcherBase::finished, this, [this] {
        const auto out = watcher_.result();
        runButton_->setEnabled(true);
        cancelButton_->setEnabled(false);
        progress_->setValue(0);
        if (out->cancelled) {
            status_->setText("Cancelled; the curves shown are the previous run's.");
            emit finished(false);
            return;
        }
        if (!out->error.isEmpty()) {
            status_->setText(out->error);
            emit finished(false);
            return;
        }
        results_ = out->results;
        buildFaithfulnessFigure(*plot_, "Pixel flipping · " + QFileInfo(imagePath_).fileName() + " · " + className_, explain::summarizeFaithfulness({results_}),
                                "One image: no SEM.");
        QStringList best;
        for (const auto& r : results_) best << QString("%1 %2").arg(explain::toString(r.map)).arg(r.abpc, 0, 'g', 3);
        status_->setText("ABPC per map: " + best.join(", ") + ". `biasscope-cli faithfulness` runs many images.");
        emit finished(true);
    });
}

FaithfulnessDialog::~FaithfulnessDialog() {
    cancel_->store(true);
    watcher_.waitForFinished();
}

bool FaithfulnessDialog::running() const { return watcher_.isRunning(); }

QString FaithfulnessDialog::statusText() const { return status_->text(); }

void FaithfulnessDialog::cancel() { cancel_->store(true); }

void FaithfulnessDialog::start() {
    if (running() || !model_) return;
    cancel_->store(false);
    runButton_->setEnabled(false);
    cancelButton_->setEnabled(true);
    status_->setText("Pixel flipping…");
    QPointer<QProgressBar> bar(progress_);
    auto model = model_;
    auto cancel = cancel_;
    const QString path = imagePath_;
    const int c = classIndex_;
    watcher_.setFuture(QtConcurrent::run([model, cancel, path, c, bar]() -> std::shared_ptr<const FaithfulnessOutcome> {
        auto out = std::make_shared<FaithfulnessOutcome>();
        try {
            JobControl job;
            job.cancel = cancel.get();
            job.progress = [bar](double f, const std::string&) {
                QMetaObject::invokeMethod(bar, [bar, f] {
                    if (bar) bar->setValue(static_cast<int>(f * 1000));
                }, Qt::QueuedConnection);
            };
            const at::Tensor pixels = preprocess::vitPixels(io::loadRgbImage(path.toStdString()), model->backbone.config).to(model->backbone.clsToken.device());
            out->results = explain::pixelFlipping(*model, 0, c, pixels, explain::allFaithfulnessMaps(), {}, job);
        } catch (const Cancelled&) {
            out->cancelled = true;
        } catch (const std::exception& e) {
            out->error = QString::fromUtf8(e.what());
        }
        return out;
    }));
}

}  // namespace biasscope::ui
