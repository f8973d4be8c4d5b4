#include "RelevanceJob.h"

#include <QtConcurrent/QtConcurrentRun>
#include <chrono>

#include "common/Device.h"
#include "io/ImageIO.h"
#include "preprocess/ImagePreprocessor.h"

namespace biasscope::ui {

RelevanceJob::RelevanceJob(QObject* parent) : QObject(parent) {
    qRegisterMetaType<std::shared_ptr<const RelevanceOutcome>>();
    qRegisterMetaType<std::shared_ptr<const ModelOutcome>>();
    connect(&watcher_, &QFutureWatcher<std::shared_ptr<const RelevanceOutcome>>::finished, this, [this] { emit finished(watcher_.result()); });
    connect(&modelWatcher_, &QFutureWatcher<std::shared_ptr<const ModelOutcome>>::finished, this,
            [this] { emit modelLoaded(modelWatcher_.result()); });
}

RelevanceJob::~RelevanceJob() {
    cancel();
    watcher_.waitForFinished();
    modelWatcher_.waitForFinished();
}

bool RelevanceJob::isRunning() const { return watcher_.isRunning() || modelWatcher_.isRunning(); }

void RelevanceJob::cancel() {
    if (cancel_) cancel_->store(true);
}

void RelevanceJob::loadModel(const QString& path, const QString& device) {
    modelWatcher_.setFuture(QtConcurrent::run([path, device]() -> std::shared_ptr<const ModelOutcome> {
        auto out = std::make_shared<ModelOutcome>();
        out->path = path;
        try {
            const c10::Device dev = resolveDevice(device.toStdString());
            out->model = std::make_shared<const model::VitModel>(model::loadVitModel(path.toStdString()).to(dev));
        } catch (const std::exception& e) {
            out->error = QString::fromStdString(e.what()).section('\n', 0, 0);
        }
        return out;
    }));
}

void RelevanceJob::start(RelevanceRequest request) {
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    auto cancel = cancel_;
    QPointer<RelevanceJob> self(this);
    watcher_.setFuture(QtConcurrent::run([request = std::move(request), cancel, self]() -> std::shared_ptr<const RelevanceOutcome> {
        auto out = std::make_shared<RelevanceOutcome>();
        out->request = request;
        JobControl job;
        job.cancel = cancel.get();
        job.progress = [self](double f, const std::string& stage) {
            if (self) QMetaObject::invokeMethod(self, "progress", Qt::QueuedConnection, Q_ARG(double, f), Q_ARG(QString, QString::fromStdString(stage)));
        };
        try {
            const auto t0 = std::chrono::steady_clock::now();
            const at::Tensor pixels =
                preprocess::vitPixels(io::loadRgbImage(request.imagePath.toStdString()), request.model->backbone.config)
                    .to(request.model->backbone.clsToken.device());
            out->result = explain::explainBatched(*request.model, pixels, request.targets, request.options, job);
            out->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        } catch (const Cancelled&) {
            out->cancelled = true;
        } catch (const std::exception& e) {
            out->error = QString::fromStdString(e.what()).section('\n', 0, 0);
        }
        return out;
    }));
}

}  // namespace biasscope::ui
