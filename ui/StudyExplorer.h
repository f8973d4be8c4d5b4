#pragma once
// The study explorer: a study store (`study run`) and its analysis (`study analyze`) in one view.
//   image browser: virtualised thumbnail grid of every set (thumbnails decoded in worker threads),
//     confidence badge, filter by set and confidence, keyboard navigation;
//   relevance: the input heatmap over the image (blue-white-red centred on 0; per-image, per-set or
//     fixed symmetric limits; percentile clipping; alpha; grey background; nearest or bilinear),
//     the value under the cursor, the layer's token relevance on the patch grid (layer slider);
//   neurons: the layer x neuron map of the image; a click selects a neuron and shows its value in
//     every image of every set (strip plot, by set and condition), its rank per image and the
//     images where it is in the top-k;
//   analysis: significance table (sortable; filter by q, layer, site; search; CSV / LaTeX export),
//     consistency plot, similarity heatmap (hide / fade / outline, SEM), all linked: a table row or
//     a heatmap cell selects that label (target), site and layer everywhere; the volcano plot of the
//     per-neuron tests (d vs -log10 q, one family at a time; a click selects the neuron), and the
//     selected neuron's tests under its profile.
// The whole view state saves to / restores from JSON (the project file).
#include <QImage>
#include <QJsonObject>
#include <QStringList>
#include <QWidget>
#include <atomic>
#include <map>
#include <memory>
#include <optional>

#include "ProjectFile.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListView;
class QListWidget;
class QSlider;
class QSpinBox;
class QTableView;
class QTabWidget;
class QThreadPool;
class QCustomPlot;

namespace biasscope::study {
class StudyStore;
struct NeuronProfile;
class NeuronTestIndex;
}

namespace biasscope::ui {

class CsvTableModel;
class TableFilter;
class ImageListModel;

class StudyExplorer : public QWidget {
    Q_OBJECT
public:
    explicit StudyExplorer(QWidget* parent = nullptr);
    ~StudyExplorer() override;

    void openStore(const QString& storeDir);  // asynchronous: storeOpened()
    // A study run (study file -> store, resumable) and its analysis in a worker thread, with progress,
    // rate, ETA and cancel; the store opens when done. Asynchronous: studyRunFinished().
    void runStudy(const QString& studyFile, const QString& storeDir);
    void cancelJob();
    bool jobRunning() const;
    bool hasStore() const { return store_ != nullptr; }
    QString storeDir() const;

    void selectImage(int storeIndex);
    // The same image in the other condition (masked <-> unmasked: same file stem, the other set of
    // the condition pair), -1 if the store has none.
    int counterpart(int storeIndex) const;
    void selectTarget(const QString& target);
    void selectSite(const QString& site);
    void selectLayer(int layer);
    void selectNeuron(int layer, int feature);  // the cross-image profile arrives with neuronReady()
    void selectLabelLayer(const QString& label, const QString& site, int layer);  // linked selection
    void setSetFilter(const QString& set);  // empty: all sets
    void setMinConfidence(double c);

    ExplorerState saveState() const;
    void restoreState(const ExplorerState& state);  // opens the store if it is another one (storeOpened, then the rest)

    // state for tests and benchmarks
    int visibleImages() const;
    int currentImage() const { return image_; }
    QString currentTarget() const;
    QString currentSite() const;
    int currentLayer() const;
    int currentNeuron() const { return neuron_; }
    double heatLimit() const { return heatLimit_; }
    int profilePoints() const { return profilePoints_; }
    int topKImages() const;
    int layerTopKRows() const;
    QString cursorText() const;
    TableFilter* significance() const { return sigFilter_; }
    int significanceRows() const;
    QTabWidget* analysisTabs() const { return analysisTabs_; }
    QCustomPlot* neuronPlot() const { return neuronPlot_; }
    QCustomPlot* tokenPlot() const { return tokenPlot_; }
    QCustomPlot* volcanoPlot() const { return volcanoPlot_; }
    QCustomPlot* relevancePlot() const { return relevancePlot_; }
    QStringList volcanoFamilies() const;
    void selectVolcanoFamily(const QString& family);
    int volcanoPoints() const { return volcanoPoints_; }  // neurons drawn (finite q)
    QString neuronTestText() const;                       // the selected neuron's tests, as shown under its profile
    QString statusText() const;                           // the status line (store summary, warnings, errors)
    QString conservationText() const;                     // the heatmap caption's accounting of the logit (empty without one)
    void redrawAll();  // every plot of the current selection, synchronously (benchmarks)

signals:
    void storeOpened(bool ok);
    void neuronReady();
    void neuronTestsLoaded();  // neuron_tests.csv read (or found missing / refused) in a worker
    void selectionChanged();
    void studyRunFinished(bool ok);

private:
    void onStoreLoaded(std::shared_ptr<study::StudyStore> store, const QString& error);
    void loadAnalysis();
    void redrawRelevance();
    void redrawTokens();
    void redrawNeuronMap();
    void redrawProfile();
    void redrawSimilarity();
    void redrawConsistency();
    void redrawVolcano();
    void updateNeuronTests();
    void requestSetLimit();
    void applyPendingState();

    std::shared_ptr<study::StudyStore> store_;
    std::shared_ptr<const study::NeuronProfile> profile_;
    std::shared_ptr<const study::NeuronTestIndex> neuronTests_;
    QString neuronTestsError_;
    QString lastConservation_;
    std::vector<int> volcanoRows_;  // cells (layer * neurons + neuron) of the shown family that are drawn
    int volcanoPoints_ = 0;
    QString profileLabel_;
    QStringList similarityLabels_;  // rows of the similarity heatmap shown (top to bottom)
    QString selectedLabel_;         // the linked label / layer (outlined in the heatmap)
    int selectedLayer_ = -1;
    QImage cachedImage_;  // the current image, decoded
    int cachedImageIndex_ = -1;
    ImageListModel* images_ = nullptr;
    CsvTableModel* sigModel_ = nullptr;
    TableFilter* sigFilter_ = nullptr;
    int image_ = -1, neuron_ = -1, neuronLayer_ = -1, profilePoints_ = 0;
    double heatLimit_ = 0;
    std::map<QString, double> setLimits_;  // "<target>|<set>" -> limit (per-set mode)
    std::vector<float> heat_;
    int heatW_ = 0, heatH_ = 0;
    QString cursor_;
    std::optional<ExplorerState> pendingState_;
    std::shared_ptr<int> generation_;  // invalidates results of superseded worker jobs
    std::shared_ptr<std::atomic<int>> profileRequest_;  // the latest neuron-profile request
    QThreadPool* profilePool_ = nullptr;

    QComboBox *setBox_ = nullptr, *targetBox_ = nullptr, *siteBox_ = nullptr, *limitsBox_ = nullptr, *styleBox_ = nullptr, *simSetBox_ = nullptr,
              *volcanoFamilyBox_ = nullptr;
    QDoubleSpinBox *minConfBox_ = nullptr, *fixedLimitBox_ = nullptr, *percentileBox_ = nullptr, *maxQBox_ = nullptr;
    QSlider *layerSlider_ = nullptr, *alphaSlider_ = nullptr;
    QSpinBox *topKBox_ = nullptr, *tableLayerBox_ = nullptr;
    QCheckBox *grayBox_ = nullptr, *smoothBox_ = nullptr, *semBox_ = nullptr;
    QLineEdit* searchEdit_ = nullptr;
    QListView* imageView_ = nullptr;
    QListWidget* topKList_ = nullptr;
    QListWidget* layerTopK_ = nullptr;  // the image's top-k neurons of every layer
    QTableView* sigView_ = nullptr;
    QLabel *status_ = nullptr, *cursorLabel_ = nullptr, *layerLabel_ = nullptr, *neuronTestLabel_ = nullptr;
    class QProgressBar* jobProgress_ = nullptr;
    class QPushButton* cancelButton_ = nullptr;
    class QPushButton* counterpartButton_ = nullptr;
    std::shared_ptr<std::atomic<bool>> jobCancel_;
    bool jobRunning_ = false;
    QCustomPlot *relevancePlot_ = nullptr, *tokenPlot_ = nullptr, *neuronPlot_ = nullptr, *profilePlot_ = nullptr, *consistencyPlot_ = nullptr,
                *similarityPlot_ = nullptr, *volcanoPlot_ = nullptr;
    QTabWidget* analysisTabs_ = nullptr;
};

}  // namespace biasscope::ui
