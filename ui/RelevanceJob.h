#pragma once
// Loads a model / computes relevance off the UI thread (QtConcurrent), reports progress through
// queued signals and cancels cooperatively. The UI thread never calls into LibTorch for long.
#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <atomic>
#include <memory>

#include "explain/RelevanceEngine.h"
#include "model/VitWeights.h"

namespace biasscope::ui {

struct RelevanceRequest {
    std::shared_ptr<const model::VitModel> model;
    QString imagePath;
    std::vector<explain::Target> targets;
    explain::RelevanceOptions options;
};

struct RelevanceOutcome {
    RelevanceRequest request;
    explain::RelevanceResult result;
    QString error;  // empty on success
    bool cancelled = false;
    double seconds = 0;
};

struct ModelOutcome {
    std::shared_ptr<const model::VitModel> model;
    QString path, error;
};

class RelevanceJob : public QObject {
    Q_OBJECT
public:
    explicit RelevanceJob(QObject* parent = nullptr);
    ~RelevanceJob() override;
    bool isRunning() const;
    void start(RelevanceRequest request);
    void loadModel(const QString& path, const QString& device = "auto");
    void cancel();

signals:
    void progress(double fraction, const QString& stage);
    void finished(const std::shared_ptr<const biasscope::ui::RelevanceOutcome>& outcome);
    void modelLoaded(const std::shared_ptr<const biasscope::ui::ModelOutcome>& outcome);

private:
    QFutureWatcher<std::shared_ptr<const RelevanceOutcome>> watcher_;
    QFutureWatcher<std::shared_ptr<const ModelOutcome>> modelWatcher_;
    std::shared_ptr<std::atomic<bool>> cancel_;
};

}  // namespace biasscope::ui
