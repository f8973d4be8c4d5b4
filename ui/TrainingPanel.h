#pragma once
// The training panel: set up a run (data, mode, init, output, recipe), start it in a worker thread,
// watch loss and accuracy per epoch live (QCustomPlot), progress with rate and ETA, cancel cleanly
// (the last finished epoch's checkpoint is kept; starting again with the same settings resumes).
#include <QFutureWatcher>
#include <QWidget>
#include <atomic>
#include <memory>

#include "train/Trainer.h"

class QComboBox;
class QLineEdit;
class QSpinBox;
class QDoubleSpinBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QCustomPlot;

namespace biasscope::ui {

struct TrainRequest {
    QString dataKind = "folder";  // celeba | folder | csv
    QString root, attribute = "Male", init, config, outDir, device = "auto";
    train::TrainOptions options;
};

struct TrainOutcome {
    train::TrainResult result;
    QString error;
    bool cancelled = false;
};

class TrainingPanel : public QWidget {
    Q_OBJECT
public:
    explicit TrainingPanel(QWidget* parent = nullptr);
    ~TrainingPanel() override;

    void setRequest(const TrainRequest& request);  // fills the form
    TrainRequest request() const;                  // reads the form
    void start();
    void cancel();
    bool busy() const;
    // Shows a finished run: its metrics.csv (epoch, train/val loss and accuracy) in the plots.
    bool showRun(const QString& runDir);

    // state for tests
    int plottedEpochs() const;
    QString statusText() const;

signals:
    void epochDone(int epoch);
    void finished(bool ok);

private slots:
    // called from the worker thread through queued invocations
    void setProgressText(double fraction, const QString& stage);
    void addEpoch(int epoch, double trainLoss, double valLoss, double trainAcc, double valAcc);

private:
    void onFinished();
    void setBusy(bool b);

    QComboBox *dataBox_ = nullptr, *modeBox_ = nullptr;
    QLineEdit *rootEdit_ = nullptr, *attributeEdit_ = nullptr, *initEdit_ = nullptr, *configEdit_ = nullptr, *outEdit_ = nullptr, *deviceEdit_ = nullptr;
    QSpinBox *epochsBox_ = nullptr, *batchBox_ = nullptr, *patienceBox_ = nullptr, *seedBox_ = nullptr;
    QDoubleSpinBox* lrBox_ = nullptr;
    QPushButton *startButton_ = nullptr, *cancelButton_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QLabel* status_ = nullptr;
    QCustomPlot *lossPlot_ = nullptr, *accPlot_ = nullptr;
    QFutureWatcher<std::shared_ptr<const TrainOutcome>> watcher_;
    std::shared_ptr<std::atomic<bool>> cancel_;
    int epochs_ = 0;
};

}  // namespace biasscope::ui
