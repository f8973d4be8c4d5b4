#pragma once
// The Attention-IoU view (study 2): set up a score run (data set, models, map type, mask or heatmap
// score), run it in a worker thread with progress and cancel (per-model results are kept, so a
// cancelled run resumes), browse the split image by image (image, map, chosen mask, the confounder's
// map for CelebA, and that image's scores), read the score table of any finished run (mean +-
// population std over models, the uniform-map baseline), and draw the study's figures from the runs
// loaded (mask-score bars, score vs bias, heatmap-score scatter) with export for papers.
#include <QFutureWatcher>
#include <QJsonObject>
#include <QWidget>
#include <atomic>
#include <memory>
#include <vector>

#include "attention/AttentionStudy.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QSlider;
class QTableWidget;
class QCustomPlot;
class QTabWidget;

namespace biasscope::ui {

struct FigureExportOptions;
struct ScoreOutcome;
struct ImageOutcome;

class AttentionPanel : public QWidget {
    Q_OBJECT
public:
    enum class Figure { MaskBars = 0, ScoreVsBias = 1, HeatmapScatter = 2 };

    explicit AttentionPanel(QWidget* parent = nullptr);
    ~AttentionPanel() override;

    void setRequest(const attention::AttentionRunOptions& options);  // fills the form
    attention::AttentionRunOptions request() const;                   // reads the form
    void runScores();  // asynchronous: scoresFinished()
    void cancel();
    bool busy() const;
    // Adds a finished run (its JSON sidecar) to the results: table, figures. False (and a message) on a bad file.
    bool addResult(const QString& sidecarPath);
    void showResult(int index);
    // Maps of image `index` of the split for the current model (asynchronous: imageReady()).
    void showImage(int index);
    void setFigure(Figure f);
    // The Scores table's measure: 0 Attention-IoU, 1 mass accuracy, 2 rank accuracy, 3 AUC (mask runs only).
    void setMeasure(int index);
    // Export of the figure shown; throws biasscope::Error with the file on failure.
    void exportFigure(const QString& path, const FigureExportOptions& options);

    // state for tests
    int resultCount() const;
    QString tableText(int row, int column) const;
    int tableRows() const;
    QString imageScoresText() const;
    QString statusText() const;
    int figurePlottables() const;
    int splitSize() const { return splitSize_; }
    QTabWidget* tabs() const { return tabs_; }

signals:
    void scoresFinished(bool ok);
    void imageReady(bool ok);

private slots:
    void setProgressText(double fraction, const QString& stage);

private:
    void onScoresFinished();
    void onImageFinished();
    void redrawFigure();
    QJsonObject figureProvenance() const;  // the sidecar of exported figures and data
    void redrawImage();
    void setBusy(bool b);

    std::vector<attention::ScoreSummary> results_;
    std::shared_ptr<const ImageOutcome> image_;
    int pendingImage_ = -1, splitSize_ = 0;
    Figure figure_ = Figure::MaskBars;

    QComboBox *datasetBox_ = nullptr, *mapBox_ = nullptr, *scoreBox_ = nullptr, *splitBox_ = nullptr, *resultBox_ = nullptr, *figureBox_ = nullptr, *measureBox_ = nullptr,
              *maskBox_ = nullptr, *modelBox_ = nullptr;
    QLineEdit *rootEdit_ = nullptr, *attributeEdit_ = nullptr, *confounderEdit_ = nullptr, *outEdit_ = nullptr;
    QListWidget* modelList_ = nullptr;
    QSpinBox *sizeBox_ = nullptr, *imageBox_ = nullptr;
    QSlider* imageSlider_ = nullptr;
    QPushButton *runButton_ = nullptr, *cancelButton_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QLabel *status_ = nullptr, *imageLabel_ = nullptr, *mapLabel_ = nullptr, *maskLabel_ = nullptr, *confLabel_ = nullptr, *imageScores_ = nullptr,
           *resultNote_ = nullptr;
    QTableWidget* table_ = nullptr;
    QCustomPlot* figurePlot_ = nullptr;
    QTabWidget* tabs_ = nullptr;
    QFutureWatcher<std::shared_ptr<const ScoreOutcome>> scoreWatcher_;
    QFutureWatcher<std::shared_ptr<const ImageOutcome>> imageWatcher_;
    std::shared_ptr<std::atomic<bool>> cancel_;
};

}  // namespace biasscope::ui
