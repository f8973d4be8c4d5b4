#pragma once
// First slice of the explorer: open a model and an image, pick a target, compute relevance in a
// worker thread, see the input heatmap over the image and the layer x neuron map of a site.
#include <QMainWindow>
#include <memory>

class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSlider;
class QCheckBox;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QCPItemPixmap;
class QTabWidget;

namespace biasscope::ui {

class RelevanceJob;
class TrainingPanel;
class AttentionPanel;
class StudyExplorer;
class FaithfulnessDialog;
struct RelevanceOutcome;
struct ModelOutcome;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Asynchronous: modelReady() / failed() tell when it is done.
    void openModel(const QString& path);
    void setDevice(const QString& device);  // auto | cpu | cuda[:N], used for the next model load
    // Settings (also in the project file and QSettings): device, CPU threads (0 = all), cache folder
    // (where the built-in demo is made).
    struct Settings {
        QString device = "auto";
        int threads = 0;
        QString cacheDir;
    };
    void applySettings(const Settings& s);
    Settings settings() const;
    bool openImage(const QString& path);
    void selectTarget(int classIndex);
    void selectSite(const QString& site);
    void compute();
    void cancel();
    // Pixel flipping of the current model, image and target in a dialog (started by its Run button or
    // the "Pixel flipping…" button); nullptr without a model and an image.
    FaithfulnessDialog* openFaithfulness();
    bool busy() const;
    TrainingPanel* trainingPanel() const { return training_; }
    AttentionPanel* attentionPanel() const { return attention_; }
    StudyExplorer* studyExplorer() const { return explorer_; }
    void showTab(int index);  // 0 relevance, 1 training, 2 Attention-IoU, 3 study explorer
    int currentTab() const;

    // Project file (JSON): the open tab, the explorer's whole state (store, selection, view options)
    // and the Attention-IoU form. Throws biasscope::Error naming the file.
    void saveProject(const QString& path) const;
    void openProject(const QString& path);  // the explorer reopens its store in the background

    // State for tests
    int targetCount() const;
    double neuronMapAbsMax() const;
    double heatmapLimit() const;
    QString statusText() const;

signals:
    void modelReady();
    void relevanceReady();
    void failed(const QString& message);

private:
    void buildUi();
    void onModelLoaded(const std::shared_ptr<const ModelOutcome>& outcome);
    void onFinished(const std::shared_ptr<const RelevanceOutcome>& outcome);
    int currentTargetRow() const;  // row of the selected class in the current result, -1 if none
    void redraw();
    void redrawImage();
    void redrawNeuronMap();
    void setBusy(bool busy);
    void showError(const QString& message);

    Settings settings_;
    struct State;
    std::unique_ptr<State> state_;
    RelevanceJob* job_ = nullptr;
    QTabWidget* tabs_ = nullptr;
    TrainingPanel* training_ = nullptr;
    AttentionPanel* attention_ = nullptr;
    StudyExplorer* explorer_ = nullptr;
    QComboBox *targetBox_ = nullptr, *ruleBox_ = nullptr, *readoutBox_ = nullptr, *siteBox_ = nullptr;
    QPushButton *computeButton_ = nullptr, *cancelButton_ = nullptr, *flipButton_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QSlider* alphaSlider_ = nullptr;
    QCheckBox* grayBox_ = nullptr;
    QLabel *modelLabel_ = nullptr, *imageLabel_ = nullptr, *summaryLabel_ = nullptr, *deviationLabel_ = nullptr;
    QCustomPlot *imagePlot_ = nullptr, *neuronPlot_ = nullptr;
    QCPItemPixmap* overlayItem_ = nullptr;
    QCPColorScale* imageScale_ = nullptr;
    QCPColorMap* imageScaleMap_ = nullptr;
    QCPColorMap* neuronMap_ = nullptr;
    QCPColorScale* neuronScale_ = nullptr;
};

}  // namespace biasscope::ui
