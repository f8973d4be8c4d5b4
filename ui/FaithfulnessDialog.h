#pragma once
// Pixel flipping of the Relevance tab's model, image and target (explain/Faithfulness.h): every map kind
// in a worker thread with progress and cancel, the curves drawn by the figure shared with the CLI.
#include <QDialog>
#include <QFutureWatcher>
#include <atomic>
#include <memory>
#include <vector>

#include "explain/Faithfulness.h"

class QCustomPlot;
class QLabel;
class QProgressBar;
class QPushButton;

namespace biasscope::ui {

struct FaithfulnessOutcome {
    std::vector<explain::FlipResult> results;
    QString error;
    bool cancelled = false;
};

class FaithfulnessDialog : public QDialog {
    Q_OBJECT
public:
    FaithfulnessDialog(std::shared_ptr<const model::VitModel> model, QString imagePath, int classIndex, QString className, QWidget* parent = nullptr);
    ~FaithfulnessDialog() override;
    void start();  // asynchronous: finished()
    void cancel();
    bool running() const;
    QCustomPlot* plot() const { return plot_; }
    QString statusText() const;
    const std::vector<explain::FlipResult>& results() const { return results_; }

signals:
    void finished(bool ok);

private:
    std::shared_ptr<const model::VitModel> model_;
    QString imagePath_, className_;
    int classIndex_ = 0;
    std::vector<explain::FlipResult> results_;
    QFutureWatcher<std::shared_ptr<const FaithfulnessOutcome>> watcher_;
    std::shared_ptr<std::atomic<bool>> cancel_;
    QCustomPlot* plot_ = nullptr;
    QLabel* status_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QPushButton *runButton_ = nullptr, *cancelButton_ = nullptr;
};

}  // namespace biasscope::ui
