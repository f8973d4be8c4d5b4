#include "StudyExplorer.h"

#include <QAbstractListModel>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QImageReader>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QListWidget>
#include <QElapsedTimer>
#include <QPainter>
#include <QProgressBar>
#include <QPointer>
#include <QPushButton>
#include <QSaveFile>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QTextStream>
#include <QThreadPool>
#include <QVBoxLayout>
#include <QtConcurrent>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>
#include <qcustomplot.h>

#include <torch/types.h>

#include "BwrColorMap.h"
#include "ExportMenu.h"
#include "TableModels.h"
#include "attention/GradCam.h"  // inferTokenGrid
#include "common/Error.h"
#include "figures/ConsistencyFigure.h"
#include "figures/RelevanceMaps.h"
#include "figures/SimilarityHeatmap.h"
#include "figures/VolcanoFigure.h"
#include "study/StudyAnalysis.h"
#include "study/StudyRunner.h"
#include "study/NeuronTestTable.h"
#include "study/StudyStore.h"

namespace biasscope::ui {

// ---- the image grid: filtered store images, thumbnails decoded in the thread pool ----
class ImageListModel : public QAbstractListModel {
public:
    explicit ImageListModel(QObject* parent) : QAbstractListModel(parent) {}
    // A new store starts unfiltered, as the set and confidence controls are reset with it (the filter of
    // the store before used to stay, while the controls showed "all sets" and 0.00).
    void setStore(std::shared_ptr<study::StudyStore> s, double threshold) {
        beginResetModel();
        store_ = std::move(s);
        threshold_ = threshold;
        set_.clear();
        min_ = 0;
        thumbs_.clear();
        pending_.clear();
        refilter();
        endResetModel();
    }
    void setFilter(const QString& set, double minConfidence, double threshold) {
        beginResetModel();
        set_ = set;
        min_ = minConfidence;
        threshold_ = threshold;
        refilter();
        endResetModel();
    }
    int rowCount(const QModelIndex& p = {}) const override { return p.isValid() ? 0 : static_cast<int>(rows_.size()); }
    int storeIndex(int row) const { return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[static_cast<std::size_t>(row)] : -1; }
    int rowOf(int storeIndex) const {
        const auto it = std::find(rows_.begin(), rows_.end(), storeIndex);
        return it == rows_.end() ? -1 : static_cast<int>(it - rows_.begin());
    }
    QVariant data(const QModelIndex& index, int role) const override {
        const int i = storeIndex(index.row());
        if (i < 0) return {};
        const auto& im = store_->images()[static_cast<std::size_t>(i)];
        if (role == Qt::DisplayRole) return QString("%1\n%2 %3").arg(QString::fromStdString(im.stem)).arg(QString::fromStdString(im.set)).arg(im.confidence, 0, 'f', 2);
        if (role == Qt::ToolTipRole)
            return QString("%1\nset %2 (%3)\nconfidence %4 (%5 the threshold %6)")
                .arg(QString::fromStdString(im.imageFile), QString::fromStdString(im.set), QString::fromStdString(im.condition))
                .arg(im.confidence, 0, 'f', 4)
                .arg(im.confidence >= threshold_ ? "passes" : "below")
                .arg(threshold_);
        if (role == Qt::DecorationRole) return thumbnail(i, im.imageFile, im.confidence >= threshold_);
        return {};
    }

private:
    void refilter() {
        rows_.clear();
        if (!store_) return;
        for (std::size_t i = 0; i < store_->images().size(); ++i) {
            const auto& im = store_->images()[i];
            if ((set_.isEmpty() || QString::fromStdString(im.set) == set_) && im.confidence >= min_) rows_.push_back(static_cast<int>(i));
        }
    }
    QPixmap thumbnail(int i, const std::string& file, bool passes) const {
        auto it = thumbs_.find(i);
        if (it != thumbs_.end()) {
            QPixmap p = it->second;  // the badge: a green or grey bar (passes the confidence threshold or not)
            QPainter painter(&p);
            painter.fillRect(0, p.height() - 5, p.width(), 5, passes ? QColor(40, 160, 70) : QColor(150, 150, 150));
            return p;
        }
        if (!pending_.count(i)) {
            pending_.insert(i);
            QPointer<QAbstractListModel> self(const_cast<ImageListModel*>(this));
            const QString path = QString::fromStdString(file);
            (void)QtConcurrent::run([self, i, path] {
                QImageReader reader(path);
                QSize s = reader.size();
                if (s.isValid()) reader.setScaledSize(s.scaled(72, 72, Qt::KeepAspectRatio));
                QImage img = reader.read();
                if (img.isNull()) {
                    img = QImage(72, 72, QImage::Format_RGB32);
                    img.fill(QColor(230, 200, 200));  // unreadable: a pink tile, the tooltip names the file
                }
                QMetaObject::invokeMethod(self, [self, i, img] {
                    if (!self) return;
                    auto* m = static_cast<ImageListModel*>(self.data());
                    m->thumbs_[i] = QPixmap::fromImage(img);
                    const int row = m->rowOf(i);
                    if (row >= 0) emit m->dataChanged(m->index(row), m->index(row), {Qt::DecorationRole});
                }, Qt::QueuedConnection);
            });
        }
        QPixmap blank(72, 72);
        blank.fill(QColor(240, 240, 240));
        return blank;
    }

    std::shared_ptr<study::StudyStore> store_;
    std::vector<int> rows_;
    QString set_;
    double min_ = 0, threshold_ = 0.9;
    mutable std::map<int, QPixmap> thumbs_;
    mutable std::set<int> pending_;
};

namespace {

QCPAxisRect* firstRect(QCustomPlot* p) {
    const auto rects = p->axisRects();
    return rects.isEmpty() ? nullptr : rects.first();
}

std::vector<float> toVector(const at::Tensor& t) {
    const at::Tensor c = t.to(torch::kFloat32).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

StudyExplorer::StudyExplorer(QWidget* parent)
    : QWidget(parent), generation_(std::make_shared<int>(0)), profileRequest_(std::make_shared<std::atomic<int>>(0)), profilePool_(new QThreadPool(this)) {
    profilePool_->setMaxThreadCount(1);
    auto* outer = new QVBoxLayout(this);
    // ---- controls ----
    auto* bar = new QHBoxLayout;
    auto* openButton = new QPushButton("Open store…");
    connect(openButton, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, "Study store (output of study run)");
        if (!d.isEmpty()) openStore(d);
    });
    auto* runButton = new QPushButton("Run study…");
    runButton->setToolTip("compute the relevance store of a study file (resumable) and analyse it, in the background");
    connect(runButton, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, "Study file", {}, "Study (*.json)");
        if (f.isEmpty()) return;
        const QString d = QFileDialog::getExistingDirectory(this, "Store folder (new or to resume)");
        if (!d.isEmpty()) runStudy(f, d);
    });
    bar->addWidget(runButton);
    setBox_ = new QComboBox;
    setBox_->addItem("all sets", QString());
    minConfBox_ = new QDoubleSpinBox;
    minConfBox_->setRange(0, 1);
    minConfBox_->setSingleStep(0.05);
    minConfBox_->setDecimals(2);
    minConfBox_->setToolTip("show images with at least this confidence");
    targetBox_ = new QComboBox;
    targetBox_->setMinimumContentsLength(12);
    siteBox_ = new QComboBox;
    layerSlider_ = new QSlider(Qt::Horizontal);
    layerSlider_->setRange(0, 0);
    layerSlider_->setMaximumWidth(140);
    layerLabel_ = new QLabel("layer 0");
    for (auto [label, w] : std::initializer_list<std::pair<const char*, QWidget*>>{
             {"", openButton}, {"Set", setBox_}, {"min conf.", minConfBox_}, {"Target", targetBox_}, {"Site", siteBox_}, {"", layerSlider_}, {"", layerLabel_}}) {
        if (*label) bar->addWidget(new QLabel(label));
        bar->addWidget(w);
    }
    bar->addStretch();
    outer->addLayout(bar);
    auto* bar2 = new QHBoxLayout;
    limitsBox_ = new QComboBox;
    limitsBox_->addItem("per-image limits", "image");
    limitsBox_->addItem("per-set limits", "set");
    limitsBox_->addItem("fixed limit", "fixed");
    fixedLimitBox_ = new QDoubleSpinBox;
    fixedLimitBox_->setRange(1e-9, 1e9);
    fixedLimitBox_->setDecimals(6);
    fixedLimitBox_->setValue(1.0);
    percentileBox_ = new QDoubleSpinBox;
    percentileBox_->setRange(50, 100);
    percentileBox_->setValue(99.5);
    percentileBox_->setSuffix(" %");
    percentileBox_->setToolTip("symmetric limit = this percentile of |relevance| (clips outliers)");
    alphaSlider_ = new QSlider(Qt::Horizontal);
    alphaSlider_->setRange(0, 100);
    alphaSlider_->setValue(60);
    alphaSlider_->setMaximumWidth(100);
    grayBox_ = new QCheckBox("grey image");
    grayBox_->setChecked(true);
    smoothBox_ = new QCheckBox("bilinear");
    topKBox_ = new QSpinBox;
    topKBox_->setRange(1, 100);
    topKBox_->setValue(5);
    for (auto [label, w] : std::initializer_list<std::pair<const char*, QWidget*>>{{"", limitsBox_},
                                                                                  {"", fixedLimitBox_},
                                                                                  {"clip", percentileBox_},
                                                                                  {"alpha", alphaSlider_},
                                                                                  {"", grayBox_},
                                                                                  {"", smoothBox_},
                                                                                  {"top-k", topKBox_}}) {
        if (*label) bar2->addWidget(new QLabel(label));
        bar2->addWidget(w);
    }
    counterpartButton_ = new QPushButton("⇄ masked / unmasked");
    counterpartButton_->setToolTip("the same image in the other condition (context feathered away or not)");
    connect(counterpartButton_, &QPushButton::clicked, this, [this] { selectImage(counterpart(image_)); });
    bar2->addWidget(counterpartButton_);
    cursorLabel_ = new QLabel;
    cursorLabel_->setMinimumWidth(260);
    bar2->addWidget(cursorLabel_);
    bar2->addStretch();
    outer->addLayout(bar2);

    // ---- browser | relevance + neurons | profile ----
    auto* vsplit = new QSplitter(Qt::Vertical);
    auto* split = new QSplitter(Qt::Horizontal);
    images_ = new ImageListModel(this);
    imageView_ = new QListView;
    imageView_->setModel(images_);
    imageView_->setViewMode(QListView::IconMode);
    imageView_->setUniformItemSizes(true);  // virtualised layout: only visible items are measured and drawn
    imageView_->setIconSize(QSize(72, 72));
    imageView_->setGridSize(QSize(96, 118));
    imageView_->setResizeMode(QListView::Adjust);
    imageView_->setMovement(QListView::Static);
    imageView_->setWordWrap(true);
    imageView_->setMinimumWidth(230);
    split->addWidget(imageView_);
    auto* centre = new QWidget;
    auto* cl = new QGridLayout(centre);
    cl->setContentsMargins(0, 0, 0, 0);
    relevancePlot_ = new QCustomPlot;
    relevancePlot_->setMinimumSize(300, 260);
    tokenPlot_ = new QCustomPlot;
    tokenPlot_->setMinimumSize(220, 220);
    neuronPlot_ = new QCustomPlot;
    neuronPlot_->setMinimumSize(300, 180);
    cl->addWidget(relevancePlot_, 0, 0);
    cl->addWidget(tokenPlot_, 0, 1);
    cl->addWidget(neuronPlot_, 1, 0, 1, 2);
    split->addWidget(centre);
    auto* right = new QWidget;
    auto* rl = new QVBoxLayout(right);
    rl->setContentsMargins(0, 0, 0, 0);
    profilePlot_ = new QCustomPlot;
    profilePlot_->setMinimumSize(260, 220);
    rl->addWidget(profilePlot_, 2);
    neuronTestLabel_ = new QLabel;
    neuronTestLabel_->setWordWrap(true);
    neuronTestLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    neuronTestLabel_->setStyleSheet("QLabel { font-size: 8pt; }");
    neuronTestLabel_->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    neuronTestLabel_->setFixedHeight(QFontMetrics(QFont("sans", 8)).lineSpacing() * 7 + 4);  // a selection never moves the layout
    rl->addWidget(neuronTestLabel_);
    rl->addWidget(new QLabel("Images with the neuron in their top-k (click to open):"));
    topKList_ = new QListWidget;
    rl->addWidget(topKList_, 1);
    rl->addWidget(new QLabel("This image's top-k neurons per layer (click: across images):"));
    layerTopK_ = new QListWidget;
    rl->addWidget(layerTopK_, 1);
    split->addWidget(right);
    split->setStretchFactor(1, 2);
    vsplit->addWidget(split);

    // ---- analysis tabs ----
    analysisTabs_ = new QTabWidget;
    auto* sigTab = new QWidget;
    auto* sl = new QVBoxLayout(sigTab);
    auto* sigBar = new QHBoxLayout;
    maxQBox_ = new QDoubleSpinBox;
    maxQBox_->setRange(0, 1);
    maxQBox_->setDecimals(3);
    maxQBox_->setSingleStep(0.01);
    maxQBox_->setValue(0.05);
    tableLayerBox_ = new QSpinBox;
    tableLayerBox_->setRange(-1, 999);
    tableLayerBox_->setValue(-1);
    tableLayerBox_->setSpecialValueText("all layers");
    searchEdit_ = new QLineEdit;
    searchEdit_->setPlaceholderText("search label / set");
    auto* csvButton = new QPushButton("Export CSV…");
    auto* texButton = new QPushButton("Export LaTeX…");
    sigBar->addWidget(new QLabel("q ≤"));
    sigBar->addWidget(maxQBox_);
    sigBar->addWidget(new QLabel("layer"));
    sigBar->addWidget(tableLayerBox_);
    sigBar->addWidget(searchEdit_, 1);
    sigBar->addWidget(csvButton);
    sigBar->addWidget(texButton);
    sl->addLayout(sigBar);
    sigModel_ = new CsvTableModel(this);
    sigFilter_ = new TableFilter(this);
    sigFilter_->setSourceModel(sigModel_);
    sigFilter_->setMaxQ(0.05);
    sigView_ = new QTableView;
    sigView_->setModel(sigFilter_);
    sigView_->setSortingEnabled(true);
    sigView_->setSelectionBehavior(QAbstractItemView::SelectRows);
    sigView_->setSelectionMode(QAbstractItemView::SingleSelection);
    sigView_->verticalHeader()->setDefaultSectionSize(20);
    sl->addWidget(sigView_);
    analysisTabs_->addTab(sigTab, "Significance");
    consistencyPlot_ = new QCustomPlot;
    analysisTabs_->addTab(consistencyPlot_, "Consistency");
    auto* simTab = new QWidget;
    auto* siml = new QVBoxLayout(simTab);
    auto* simBar = new QHBoxLayout;
    simSetBox_ = new QComboBox;
    styleBox_ = new QComboBox;
    styleBox_->addItem("hide non-significant (published)", "hide");
    styleBox_->addItem("fade non-significant", "fade");
    styleBox_->addItem("outline significant", "outline");
    semBox_ = new QCheckBox("SEM instead of mean");
    simBar->addWidget(new QLabel("Set"));
    simBar->addWidget(simSetBox_);
    simBar->addWidget(styleBox_);
    simBar->addWidget(semBox_);
    simBar->addStretch();
    siml->addLayout(simBar);
    similarityPlot_ = new QCustomPlot;
    siml->addWidget(similarityPlot_, 1);
    analysisTabs_->addTab(simTab, "Similarity");
    auto* volTab = new QWidget;
    auto* voll = new QVBoxLayout(volTab);
    auto* volBar = new QHBoxLayout;
    volcanoFamilyBox_ = new QComboBox;
    volcanoFamilyBox_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    volBar->addWidget(new QLabel("Family"));
    volBar->addWidget(volcanoFamilyBox_, 1);
    voll->addLayout(volBar);
    volcanoPlot_ = new QCustomPlot;
    voll->addWidget(volcanoPlot_, 1);
    analysisTabs_->addTab(volTab, "Volcano");
    vsplit->addWidget(analysisTabs_);
    vsplit->setStretchFactor(0, 3);
    vsplit->setStretchFactor(1, 2);
    outer->addWidget(vsplit, 1);
    status_ = new QLabel("Open a study store (the output folder of `study run`; `study analyze` adds the tables), or run a study file.");
    status_->setWordWrap(true);
    auto* statusRow = new QHBoxLayout;
    statusRow->addWidget(status_, 1);
    jobProgress_ = new QProgressBar;
    jobProgress_->setRange(0, 1000);
    jobProgress_->setMaximumWidth(220);
    jobProgress_->setVisible(false);
    cancelButton_ = new QPushButton("Cancel");
    cancelButton_->setVisible(false);
    statusRow->addWidget(jobProgress_);
    statusRow->addWidget(cancelButton_);
    outer->addLayout(statusRow);
    connect(cancelButton_, &QPushButton::clicked, this, &StudyExplorer::cancelJob);

    // every plot: right click -> export the figure (presets) or the numbers behind it, with the view state as sidecar
    for (auto [plot, name] : std::initializer_list<std::pair<QCustomPlot*, const char*>>{{relevancePlot_, "input-relevance"},
                                                                                        {tokenPlot_, "token-relevance"},
                                                                                        {neuronPlot_, "neuron-map"},
                                                                                        {profilePlot_, "neuron-profile"},
                                                                                        {consistencyPlot_, "consistency"},
                                                                                        {similarityPlot_, "similarity"},
                                                                                        {volcanoPlot_, "volcano"}})
        installExportMenu(plot, name, [this, name = QString(name)] {
            QJsonObject p = explorerStateToJson(saveState());
            p["view"] = "study explorer: " + name;
            return p;
        });

    // ---- wiring ----
    connect(imageView_->selectionModel(), &QItemSelectionModel::currentChanged, this, [this](const QModelIndex& cur) {
        const int i = images_->storeIndex(cur.row());
        if (i >= 0 && i != image_) selectImage(i);
    });
    connect(setBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { setSetFilter(setBox_->currentData().toString()); });
    connect(minConfBox_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this](double v) { setMinConfidence(v); });
    connect(targetBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        if (!store_) return;
        requestSetLimit();
        redrawAll();
        if (neuron_ >= 0) selectNeuron(neuronLayer_, neuron_);
        emit selectionChanged();
    });
    connect(siteBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        if (!store_) return;
        redrawNeuronMap();
        redrawTokens();
        redrawSimilarity();
        if (neuron_ >= 0) selectNeuron(neuronLayer_, neuron_);
        emit selectionChanged();
    });
    connect(layerSlider_, &QSlider::valueChanged, this, [this](int l) {
        layerLabel_->setText(QString("layer %1").arg(l));
        redrawTokens();
        emit selectionChanged();
    });
    for (auto* w : {limitsBox_}) connect(w, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        requestSetLimit();
        redrawRelevance();
    });
    connect(fixedLimitBox_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this] { redrawRelevance(); });
    connect(percentileBox_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, [this] {
        setLimits_.clear();
        requestSetLimit();
        redrawRelevance();
    });
    connect(alphaSlider_, &QSlider::valueChanged, this, [this] { redrawRelevance(); });
    connect(grayBox_, &QCheckBox::toggled, this, [this] { redrawRelevance(); });
    connect(smoothBox_, &QCheckBox::toggled, this, [this] { redrawRelevance(); });
    connect(topKBox_, qOverload<int>(&QSpinBox::valueChanged), this, [this] {
        redrawNeuronMap();
        redrawProfile();
    });
    connect(maxQBox_, qOverload<double>(&QDoubleSpinBox::valueChanged), sigFilter_, &TableFilter::setMaxQ);
    connect(tableLayerBox_, qOverload<int>(&QSpinBox::valueChanged), sigFilter_, &TableFilter::setLayer);
    connect(searchEdit_, &QLineEdit::textChanged, sigFilter_, &TableFilter::setSearch);
    auto exportTable = [this](bool latex) {
        const QString p = QFileDialog::getSaveFileName(this, "Export table", {}, latex ? "LaTeX (*.tex)" : "CSV (*.csv)");
        if (p.isEmpty()) return;
        QSaveFile f(p);
        if (f.open(QIODevice::WriteOnly)) {
            QTextStream(&f) << (latex ? sigFilter_->toLatex() : sigFilter_->toCsv());
            status_->setText(f.commit() ? "Wrote " + p : "Could not write " + p);
        }
    };
    connect(csvButton, &QPushButton::clicked, this, [exportTable] { exportTable(false); });
    connect(texButton, &QPushButton::clicked, this, [exportTable] { exportTable(true); });
    connect(sigView_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& cur) {
        if (!cur.isValid()) return;
        const int row = sigFilter_->mapToSource(cur).row();
        const int lc = sigModel_->column("label1") >= 0 ? sigModel_->column("label1") : sigModel_->column("label");
        if (lc < 0) return;
        selectLabelLayer(sigModel_->cell(row, lc), sigModel_->cell(row, sigModel_->column("site")), sigModel_->cell(row, sigModel_->column("layer")).toInt());
    });
    connect(simSetBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { redrawSimilarity(); });
    connect(volcanoFamilyBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { redrawVolcano(); });
    connect(volcanoPlot_, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {  // the nearest neuron within 12 px
        auto* r = firstRect(volcanoPlot_);
        if (!r || !r->rect().contains(e->pos()) || !neuronTests_ || volcanoRows_.empty()) return;
        const study::NeuronTestFamily* f = neuronTests_->family(volcanoFamilyBox_->currentText().toStdString());
        if (!f) return;
        auto* xa = r->axis(QCPAxis::atBottom);
        auto* ya = r->axis(QCPAxis::atLeft);
        int best = -1;
        double bestD = 12.0 * 12.0;
        for (int c : volcanoRows_) {
            const double dx = xa->coordToPixel(f->d[static_cast<std::size_t>(c)]) - e->pos().x(),
                         dy = ya->coordToPixel(volcanoHeight(f->q[static_cast<std::size_t>(c)])) - e->pos().y();
            if (dx * dx + dy * dy < bestD) {
                bestD = dx * dx + dy * dy;
                best = c;
            }
        }
        if (best < 0) return;
        const std::string site = f->site;
        const int layer = best / f->neurons, neuron = best % f->neurons;
        if (siteBox_->currentText().toStdString() != site) selectSite(QString::fromStdString(site));
        selectNeuron(layer, neuron);
    });
    connect(styleBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { redrawSimilarity(); });
    connect(semBox_, &QCheckBox::toggled, this, [this] { redrawSimilarity(); });
    connect(layerTopK_, &QListWidget::itemClicked, this, [this](QListWidgetItem* it) {
        const QPoint p = it->data(Qt::UserRole).toPoint();  // (layer, neuron)
        selectNeuron(p.x(), p.y());
    });
    connect(topKList_, &QListWidget::itemActivated, this, [this](QListWidgetItem* it) { selectImage(it->data(Qt::UserRole).toInt()); });
    connect(topKList_, &QListWidget::itemClicked, this, [this](QListWidgetItem* it) { selectImage(it->data(Qt::UserRole).toInt()); });
    // clicks on the maps
    connect(neuronPlot_, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
        auto* r = firstRect(neuronPlot_);
        if (!r || !r->rect().contains(e->pos())) return;
        const int f = static_cast<int>(std::lround(r->axis(QCPAxis::atBottom)->pixelToCoord(e->pos().x())));
        const int l = static_cast<int>(std::lround(r->axis(QCPAxis::atLeft)->pixelToCoord(e->pos().y())));
        selectNeuron(l, f);
    });
    connect(similarityPlot_, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
        auto* r = firstRect(similarityPlot_);
        if (!r || !r->rect().contains(e->pos()) || !store_) return;
        const int layer = static_cast<int>(std::lround(r->axis(QCPAxis::atBottom)->pixelToCoord(e->pos().x())));
        const int rowFromBottom = static_cast<int>(std::lround(r->axis(QCPAxis::atLeft)->pixelToCoord(e->pos().y())));
        const QStringList& labels = similarityLabels_;
        const int row = labels.size() - 1 - rowFromBottom;
        if (row >= 0 && row < labels.size()) selectLabelLayer(labels[row], siteBox_->currentText(), layer);
    });
    connect(relevancePlot_, &QCustomPlot::mouseMove, this, [this](QMouseEvent* e) {
        auto* r = firstRect(relevancePlot_);
        if (!r || heat_.empty()) return;
        const int x = static_cast<int>(std::floor(r->axis(QCPAxis::atBottom)->pixelToCoord(e->pos().x())));
        const int y = static_cast<int>(std::floor(r->axis(QCPAxis::atLeft)->pixelToCoord(e->pos().y())));
        if (x < 0 || y < 0 || x >= heatW_ || y >= heatH_) {  // off the map: no stale value
            cursor_.clear();
            cursorLabel_->clear();
            return;
        }
        cursor_ = QString("pixel (%1, %2): relevance %3 (limit ±%4)").arg(x).arg(y).arg(heat_[static_cast<std::size_t>(y * heatW_ + x)], 0, 'g', 4).arg(heatLimit_, 0, 'g', 3);
        cursorLabel_->setText(cursor_);
    });
}

StudyExplorer::~StudyExplorer() {
    ++*generation_;
    ++*profileRequest_;
    profilePool_->waitForDone();
}

bool StudyExplorer::jobRunning() const { return jobRunning_; }

void StudyExplorer::cancelJob() {
    if (jobCancel_) jobCancel_->store(true);
    status_->setText("Cancelling after the current image (stored images are kept; running again resumes)…");
}

void StudyExplorer::runStudy(const QString& studyFile, const QString& storeDir) {
    if (jobRunning_) return;
    jobRunning_ = true;
    jobCancel_ = std::make_shared<std::atomic<bool>>(false);
    jobProgress_->setValue(0);
    jobProgress_->setVisible(true);
    cancelButton_->setVisible(true);
    status_->setText("Study run: reading " + studyFile);
    auto cancel = jobCancel_;
    QPointer<StudyExplorer> self(this);
    auto* watcher = new QFutureWatcher<QString>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, storeDir] {
        const QString error = watcher->result();
        watcher->deleteLater();
        jobRunning_ = false;
        jobProgress_->setVisible(false);
        cancelButton_->setVisible(false);
        const bool partial = error.startsWith("Study run done with");
        if (!error.isEmpty() && !partial) {
            status_->setText(error);
            emit studyRunFinished(false);
            return;
        }
        openStore(storeDir);
        if (partial) status_->setText(error);
        emit studyRunFinished(true);
    });
    watcher->setFuture(QtConcurrent::run([studyFile, storeDir, cancel, self]() -> QString {
        try {
            const auto study = study::readStudyDefinition(studyFile.toStdString());
            JobControl job;
            job.cancel = cancel.get();
            QElapsedTimer clock;
            clock.start();
            job.progress = [self, clock](double f, const std::string& stage) {
                // rate and ETA from the fraction done so far
                const double s = clock.elapsed() / 1000.0;
                const QString eta = f > 0.01 ? QString(", ETA %1 s").arg(static_cast<int>(s * (1 - f) / f)) : QString();
                const QString text = QString("Study run: %1 (%2 s elapsed%3)").arg(QString::fromStdString(stage)).arg(static_cast<int>(s)).arg(eta);
                QMetaObject::invokeMethod(self, [self, f, text] {
                    if (!self) return;
                    self->jobProgress_->setValue(static_cast<int>(f * 1000));
                    self->status_->setText(text);
                }, Qt::QueuedConnection);
            };
            study::StudyRunOptions o;
            o.outDir = storeDir.toStdString();
            JobControl runJob = job;
            runJob.progress = [job](double f, const std::string& s) { job.report(0.95 * f, s); };
            const auto r = study::runStudy(study, o, runJob);
            job.report(0.96, "analysis");
            study::analyzeStudy(o.outDir, o.outDir + "/analysis", {}, job);
            if (!r.failures.empty())
                return QString("Study run done with %1 unreadable image(s), e.g. %2: %3 (listed in the store)")
                    .arg(r.failures.size())
                    .arg(QString::fromStdString(r.failures.front().first), QString::fromStdString(r.failures.front().second));
            return {};
        } catch (const Cancelled&) {
            return QString("Study run cancelled; the images stored so far are kept and a new run resumes.");
        } catch (const std::exception& e) {
            return QString("Study run failed: ") + e.what();
        }
    }));
}

QString StudyExplorer::storeDir() const { return store_ ? QString::fromStdString(store_->dir()) : QString(); }

void StudyExplorer::openStore(const QString& dir) {
    status_->setText("Reading " + dir + " …");
    const int gen = ++*generation_;
    auto g = generation_;
    auto* watcher = new QFutureWatcher<std::pair<std::shared_ptr<study::StudyStore>, QString>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, gen, g] {
        const auto r = watcher->result();
        watcher->deleteLater();
        if (*g != gen) return;  // superseded
        onStoreLoaded(r.first, r.second);
    });
    watcher->setFuture(QtConcurrent::run([dir]() -> std::pair<std::shared_ptr<study::StudyStore>, QString> {
        try {
            return {std::make_shared<study::StudyStore>(dir.toStdString()), QString()};
        } catch (const std::exception& e) {
            return {nullptr, QString::fromStdString(e.what())};
        }
    }));
}

void StudyExplorer::onStoreLoaded(std::shared_ptr<study::StudyStore> store, const QString& error) {
    if (!store) {
        status_->setText("Could not open the store: " + error);  // what was open stays open
        emit storeOpened(false);
        return;
    }
    store_ = std::move(store);
    setLimits_.clear();
    cachedImageIndex_ = -1;
    image_ = neuron_ = neuronLayer_ = -1;
    const auto& st = store_->study();
    {
        QSignalBlocker b1(setBox_), b2(targetBox_), b3(siteBox_), b4(minConfBox_), b5(simSetBox_), b6(layerSlider_);
        setBox_->clear();
        setBox_->addItem("all sets", QString());
        simSetBox_->clear();
        for (const auto& s : store_->setNames()) {
            setBox_->addItem(QString::fromStdString(s), QString::fromStdString(s));
            simSetBox_->addItem(QString::fromStdString(s));
        }
        targetBox_->clear();
        for (const auto& t : store_->targetNames()) targetBox_->addItem(QString::fromStdString(t));
        siteBox_->clear();
        for (const auto& s : store_->siteNames()) siteBox_->addItem(QString::fromStdString(s));
        minConfBox_->setValue(0);
        const at::Tensor first = store_->tensor(0, store_->targetNames().front() + "/" + store_->siteNames().front());
        layerSlider_->setRange(0, static_cast<int>(first.size(0)) - 1);
        layerSlider_->setValue(std::max(0, static_cast<int>(first.size(0)) - 2));  // the last block's patch tokens never reach a CLS head
        layerLabel_->setText(QString("layer %1").arg(layerSlider_->value()));
    }
    images_->setStore(store_, st.confidenceThreshold);
    loadAnalysis();
    status_->setText(QString("%1: %2 images in %3 sets, %4 targets, sites %5; rule %6, readout %7.")
                         .arg(QString::fromStdString(st.name))
                         .arg(store_->images().size())
                         .arg(st.sets.size())
                         .arg(st.targets.size())
                         .arg(QString::fromStdString([&] {
                             std::string s;
                             for (const auto& x : store_->siteNames()) s += (s.empty() ? "" : ", ") + x;
                             return s;
                         }()))
                         .arg(explain::toString(st.relevance.rule), explain::toString(st.relevance.readout)) +
                     (store_->skipped().empty() ? QString()
                                                : QString(" Warning: %1 unreadable record(s) left out, e.g. %2")
                                                      .arg(store_->skipped().size())
                                                      .arg(QString::fromStdString(store_->skipped().front()))));
    status_->setStyleSheet(store_->skipped().empty() ? QString() : QString("QLabel { color: #8a5a00; }"));
    selectImage(0);
    applyPendingState();
    emit storeOpened(true);
}

void StudyExplorer::loadAnalysis() {
    const QString dir = QString::fromStdString(store_->dir()) + "/analysis";
    const QString tests = dir + "/ttests.csv";
    if (QFileInfo::exists(tests)) {
        try {
            sigModel_->load(tests);
        } catch (const std::exception& e) {
            sigModel_->setRows({"error"}, {{QString::fromUtf8(e.what())}});
        }
    } else {
        sigModel_->setRows({"note"}, {{"no " + tests + ": run `biasscope-cli study analyze " + QString::fromStdString(store_->dir()) + "`"}});
    }
    sigView_->resizeColumnsToContents();
    redrawConsistency();
    redrawSimilarity();
    // the per-neuron tests (one row per layer x neuron x family: large for a real study) are read in a worker
    neuronTests_.reset();
    neuronTestsError_ = "reading analysis/neuron_tests.safetensors…";
    redrawVolcano();
    updateNeuronTests();
    const std::string path = store_->dir() + "/analysis/neuron_tests.safetensors";
    auto g = generation_;
    const int gen = *g;
    QPointer<StudyExplorer> self(this);
    (void)QtConcurrent::run([path, self, g, gen] {
        std::shared_ptr<const study::NeuronTestIndex> index;
        QString error;
        try {
            if (!std::filesystem::exists(path)) throw InputError(path + " not found: run `biasscope-cli study analyze` (per-neuron tests are on by default)");
            index = std::make_shared<const study::NeuronTestIndex>(study::readNeuronTests(path));
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        QMetaObject::invokeMethod(self, [self, index, error, g, gen] {
            if (!self || *g != gen) return;
            self->neuronTests_ = index;
            self->neuronTestsError_ = error;
            {
                QSignalBlocker b(self->volcanoFamilyBox_);
                self->volcanoFamilyBox_->clear();
                if (index)
                    for (const auto& f : index->keys()) self->volcanoFamilyBox_->addItem(QString::fromStdString(f));
            }
            self->redrawVolcano();
            self->updateNeuronTests();
            emit self->neuronTestsLoaded();
        }, Qt::QueuedConnection);
    });
}

QStringList StudyExplorer::volcanoFamilies() const {
    QStringList out;
    for (int i = 0; i < volcanoFamilyBox_->count(); ++i) out << volcanoFamilyBox_->itemText(i);
    return out;
}

void StudyExplorer::selectVolcanoFamily(const QString& family) {
    const int i = volcanoFamilyBox_->findText(family);
    if (i >= 0) volcanoFamilyBox_->setCurrentIndex(i);
}

QString StudyExplorer::neuronTestText() const { return neuronTestLabel_->text(); }

QString StudyExplorer::statusText() const { return status_->text(); }

QString StudyExplorer::conservationText() const { return lastConservation_; }

void StudyExplorer::redrawVolcano() {
    volcanoPlot_->clearPlottables();
    volcanoPlot_->clearItems();
    volcanoPlot_->plotLayout()->clear();
    volcanoRows_.clear();
    volcanoPoints_ = 0;
    const QString family = volcanoFamilyBox_->currentText();
    if (!neuronTests_ || family.isEmpty()) {
        volcanoPlot_->plotLayout()->addElement(0, 0, new QCPTextElement(volcanoPlot_, neuronTestsError_.isEmpty() ? "No per-neuron tests in this store's analysis." : neuronTestsError_,
                                                                        QFont("sans", 9)));
        volcanoPlot_->replot();
        return;
    }
    const study::NeuronTestFamily* f = neuronTests_->family(family.toStdString());
    if (!f) return;
    std::vector<VolcanoPoint> points;
    std::optional<VolcanoPoint> ringed;
    QString ringedLabel;
    int invalid = 0, significant = 0;
    const int n = f->n1;
    for (int l = 0; l < f->layers; ++l)
        for (int nn = 0; nn < f->neurons; ++nn) {
            const std::size_t c = f->cell(l, nn);
            if (l == neuronLayer_ && nn == neuron_ && f->site == siteBox_->currentText().toStdString()) {
                ringed = VolcanoPoint{f->d[c], f->q[c], f->significant(c)};
                ringedLabel = QString("neuron %1, layer %2").arg(nn).arg(l);
            }
            if (!std::isfinite(f->q[c]) || !std::isfinite(f->d[c])) {
                ++invalid;
                continue;
            }
            points.push_back({f->d[c], f->q[c], f->significant(c)});
            significant += f->significant(c);
            volcanoRows_.push_back(static_cast<int>(c));
        }
    volcanoPoints_ = static_cast<int>(volcanoRows_.size());
    buildVolcanoFigure(*volcanoPlot_,
                       QString("Per-neuron tests · %1 · %2 neurons, %3 with q < 0.05 (BH over the family)").arg(family).arg(f->layers * f->neurons).arg(significant),
                       points, ringed, ringedLabel,
                       QString("One t-test per layer x neuron across the passing images (n = %1); dashed: q = 0.05. Click a point: that neuron everywhere.%2 "
                               "Not in the published study.")
                           .arg(n)
                           .arg(invalid ? QString(" %1 neurons could not be tested (zero variance) and are not drawn.").arg(invalid) : QString()));
}

void StudyExplorer::updateNeuronTests() {
    if (!store_ || neuron_ < 0) {
        neuronTestLabel_->clear();
        return;
    }
    if (!neuronTests_) {
        neuronTestLabel_->setText(neuronTestsError_);
        return;
    }
    QStringList lines;
    for (const auto& [fi, c] : neuronTests_->ofNeuron(siteBox_->currentText().toStdString(), neuronLayer_, neuron_)) {
        const auto& f = neuronTests_->families()[static_cast<std::size_t>(fi)];
        lines << QString("%1 %2 · %3: d = %4, q = %5, n %6%7")
                     .arg(QString::fromStdString(f.family), QString::fromStdString(f.group), QString::fromStdString(f.comparison))
                     .arg(f.d[c], 0, 'f', 2)
                     .arg(f.q[c], 0, 'g', 3)
                     .arg(f.family == "paired" ? QString::number(f.n1) : QString("%1 / %2").arg(f.n1).arg(f.n2))
                     .arg(f.significant(c) ? " *" : "");
    }
    neuronTestLabel_->setText(lines.isEmpty() ? QString("No per-neuron test of this neuron in analysis/neuron_tests.safetensors.")
                                              : "Per-neuron tests (* q < 0.05, BH per family):\n" + lines.join("\n"));
}

void StudyExplorer::setSetFilter(const QString& set) {
    if (setBox_->currentData().toString() != set) {
        QSignalBlocker b(setBox_);
        setBox_->setCurrentIndex(std::max(0, setBox_->findData(set)));
    }
    if (!store_) return;
    images_->setFilter(set, minConfBox_->value(), store_->study().confidenceThreshold);
    const int row = images_->rowOf(image_);
    if (row >= 0) imageView_->setCurrentIndex(images_->index(row));
}

void StudyExplorer::setMinConfidence(double c) {
    if (std::abs(minConfBox_->value() - c) > 1e-12) {
        QSignalBlocker b(minConfBox_);
        minConfBox_->setValue(c);
    }
    setSetFilter(setBox_->currentData().toString());
}

void StudyExplorer::selectImage(int i) {
    if (!store_ || i < 0 || i >= static_cast<int>(store_->images().size())) return;
    image_ = i;
    const int row = images_->rowOf(i);
    if (row >= 0 && imageView_->currentIndex().row() != row) {
        QSignalBlocker b(imageView_->selectionModel());
        imageView_->setCurrentIndex(images_->index(row));
    }
    requestSetLimit();
    redrawRelevance();
    redrawTokens();
    redrawNeuronMap();
    redrawProfile();
    const int other = counterpart(i);
    counterpartButton_->setEnabled(other >= 0);
    if (other >= 0) {
        const auto& o = store_->images()[static_cast<std::size_t>(other)];
        counterpartButton_->setText(QString("⇄ %1 (conf. %2)").arg(QString::fromStdString(o.set)).arg(o.confidence, 0, 'f', 2));
    } else {
        counterpartButton_->setText("⇄ no counterpart");
    }
    emit selectionChanged();
}

int StudyExplorer::counterpart(int i) const {
    if (!store_ || i < 0 || i >= static_cast<int>(store_->images().size())) return -1;
    const auto& im = store_->images()[static_cast<std::size_t>(i)];
    // the partner set: "masked_X" <-> "X" (the study's naming), else any set of the other condition
    const std::string partner = im.set.rfind("masked_", 0) == 0 ? im.set.substr(7) : "masked_" + im.set;
    int fallback = -1;
    for (std::size_t k = 0; k < store_->images().size(); ++k) {
        const auto& o = store_->images()[k];
        if (o.stem != im.stem || o.condition == im.condition) continue;
        if (o.set == partner) return static_cast<int>(k);
        if (fallback < 0) fallback = static_cast<int>(k);
    }
    return fallback;
}

void StudyExplorer::selectTarget(const QString& t) {
    const int i = targetBox_->findText(t);
    if (i >= 0) targetBox_->setCurrentIndex(i);
}

void StudyExplorer::selectSite(const QString& s) {
    const int i = siteBox_->findText(s);
    if (i >= 0) siteBox_->setCurrentIndex(i);
}

void StudyExplorer::selectLayer(int l) { layerSlider_->setValue(l); }

QString StudyExplorer::currentTarget() const { return targetBox_->currentText(); }
QString StudyExplorer::currentSite() const { return siteBox_->currentText(); }
int StudyExplorer::currentLayer() const { return layerSlider_->value(); }
int StudyExplorer::visibleImages() const { return images_->rowCount(); }
int StudyExplorer::topKImages() const { return topKList_->count(); }
int StudyExplorer::layerTopKRows() const { return layerTopK_->count(); }
QString StudyExplorer::cursorText() const { return cursor_; }
int StudyExplorer::significanceRows() const { return sigFilter_->rowCount(); }

void StudyExplorer::selectLabelLayer(const QString& label, const QString& site, int layer) {
    if (!site.isEmpty()) selectSite(site);
    selectTarget(label);
    selectLayer(layer);
    {
        QSignalBlocker b(searchEdit_);
        searchEdit_->setText(label);
    }
    sigFilter_->setSearch(label);
    {
        QSignalBlocker b(tableLayerBox_);
        tableLayerBox_->setValue(layer);
    }
    sigFilter_->setLayer(layer);
    selectedLabel_ = label;
    selectedLayer_ = layer;
    redrawSimilarity();
    emit selectionChanged();
}

void StudyExplorer::requestSetLimit() {
    if (!store_ || image_ < 0 || limitsBox_->currentData().toString() != "set") return;
    const QString target = targetBox_->currentText();
    const QString set = QString::fromStdString(store_->images()[static_cast<std::size_t>(image_)].set);
    const QString key = target + "|" + set;
    if (setLimits_.count(key)) return;
    setLimits_[key] = 0;  // pending
    const double pct = percentileBox_->value();
    auto store = store_;
    auto g = generation_;
    const int gen = *g;
    QPointer<StudyExplorer> self(this);
    (void)QtConcurrent::run([store, target, set, pct, key, self, g, gen] {
        std::vector<float> all;  // the set's heatmaps: one limit for all of them
        for (std::size_t i = 0; i < store->images().size(); ++i)
            if (QString::fromStdString(store->images()[i].set) == set) {
                const auto v = toVector(store->tensor(i, target.toStdString() + "/input"));
                all.insert(all.end(), v.begin(), v.end());
            }
        const double lim = symmetricLimit(all.data(), all.size(), pct);
        QMetaObject::invokeMethod(self, [self, key, lim, g, gen] {
            if (!self || *g != gen) return;
            self->setLimits_[key] = lim;
            self->redrawRelevance();
        }, Qt::QueuedConnection);
    });
}

void StudyExplorer::redrawRelevance() {
    cursor_.clear();  // the value under the cursor belonged to the map drawn before
    cursorLabel_->clear();
    lastConservation_.clear();
    if (!store_ || image_ < 0) return;
    const auto& im = store_->images()[static_cast<std::size_t>(image_)];
    const std::string target = targetBox_->currentText().toStdString();
    try {
        const at::Tensor h = store_->tensor(static_cast<std::size_t>(image_), target + "/input");
        heatH_ = static_cast<int>(h.size(0));
        heatW_ = static_cast<int>(h.size(1));
        heat_ = toVector(h);
    } catch (const std::exception& e) {
        status_->setText(e.what());
        return;
    }
    if (cachedImageIndex_ != image_) {  // decoded once per image, not on every target / option change
        cachedImage_ = QImage(QString::fromStdString(im.imageFile));
        if (!cachedImage_.isNull()) cachedImage_ = cachedImage_.convertToFormat(QImage::Format_RGB32);
        cachedImageIndex_ = image_;
    }
    const QImage& rgb = cachedImage_;
    OverlayOptions o;
    const QString mode = limitsBox_->currentData().toString();
    o.percentile = percentileBox_->value();
    if (mode == "fixed") o.limit = fixedLimitBox_->value();
    if (mode == "set") {
        const auto it = setLimits_.find(targetBox_->currentText() + "|" + QString::fromStdString(im.set));
        if (it != setLimits_.end() && it->second > 0) o.limit = it->second;
    }
    o.alpha = alphaSlider_->value() / 100.0;
    o.grayscale = grayBox_->isChecked();
    o.smooth = smoothBox_->isChecked();
    QString caption = rgb.isNull() ? "image file not found: " + QString::fromStdString(im.imageFile) + " (heatmap on white)" : QString();
    try {  // where the logit went (records of earlier versions hold no accounting)
        if (const auto c = store_->conservation(static_cast<std::size_t>(image_), target)) {
            const auto& rel = store_->study().relevance;
            const bool conservative = explain::conservesLogit(rel);
            caption += (caption.isEmpty() ? "" : " ") + QString("Logit %1 = pixels %2 + CLS %3 + position %4 + biases %5, gap %6 %.")
                                                          .arg(c->logit, 0, 'g', 4).arg(c->pixels, 0, 'g', 4).arg(c->cls, 0, 'g', 3).arg(c->position, 0, 'g', 3)
                                                          .arg(c->biases, 0, 'g', 3).arg(100 * c->relativeGap, 0, 'g', 2) +
                       (conservative && c->relativeGap > 1e-3 ? " Warning: CP-LRP without Gamma should conserve the logit."
                                                              : conservative ? QString() : QString(" (%1 does not conserve it by design.)").arg(explain::toString(rel.rule)));
            lastConservation_ = caption;
        }
    } catch (const std::exception& e) {
        caption += QString(" (accounting unreadable: %1)").arg(QString::fromUtf8(e.what()));
    }
    heatLimit_ = buildInputOverlayFigure(*relevancePlot_, QString("%1 · %2 (%3, conf. %4)").arg(QString::fromStdString(im.stem), QString::fromStdString(target),
                                                                                              QString::fromStdString(im.set))
                                                              .arg(im.confidence, 0, 'f', 2),
                                         rgb, heat_.data(), heatW_, heatH_, o, caption);
}

void StudyExplorer::redrawTokens() {
    if (!store_ || image_ < 0) return;
    const std::string key = targetBox_->currentText().toStdString() + "/" + siteBox_->currentText().toStdString() + "_tokens";
    at::Tensor t;
    try {
        t = store_->tensor(static_cast<std::size_t>(image_), key);  // [layers, tokens]
    } catch (const std::exception& e) {
        tokenPlot_->clearPlottables();
        tokenPlot_->replot();
        return;
    }
    const int layer = std::clamp(layerSlider_->value(), 0, static_cast<int>(t.size(0)) - 1);
    const at::Tensor row = t[layer].contiguous();
    attention::TokenGrid g{};
    try {
        g = attention::inferTokenGrid(row.size(0), heatH_, heatW_, store_ && heatH_ > 0 ? [&] {
            // patch size from the grid: input side / sqrt(patch tokens); try the common prefixes
            for (std::int64_t prefix = 1; prefix >= 0; --prefix) {
                const auto n = row.size(0) - prefix;
                const auto side = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
                if (side * side == n && heatH_ % side == 0) return static_cast<std::int64_t>(heatH_ / side);
            }
            return std::int64_t{0};
        }() : 0);
    } catch (const std::exception&) {
        g = attention::inferTokenGrid(row.size(0), 0, 0, 0);
    }
    LayerMap m;
    m.layers = static_cast<int>(g.rows);
    m.columns = static_cast<int>(g.cols);
    const float* v = row.data_ptr<float>() + g.prefix;
    for (std::int64_t r = 0; r < g.rows; ++r)  // patch rows in image order; the row axis is reversed below (row 0 on top)
        for (std::int64_t c = 0; c < g.cols; ++c) m.values.push_back(v[r * g.cols + c]);
    m.columnLabel = "patch column";
    const bool allZero = std::all_of(m.values.begin(), m.values.end(), [](float x) { return x == 0.f; });
    buildLayerMapFigure(*tokenPlot_, (g.prefix ? QString("Tokens, layer %1 (CLS %2 not drawn)").arg(layer).arg(row[0].item<float>(), 0, 'g', 3) : QString("Tokens, layer %1").arg(layer)),
                        m, 0, allZero ? QString("All patch tokens are 0 here: from the last block only the CLS token reaches the head.") : QString());
    if (auto* r = firstRect(tokenPlot_)) {
        // the grid reads like the image: patch row 0 at the top, and the ticks say so (they used to count from the bottom)
        r->axis(QCPAxis::atLeft)->setRangeReversed(true);
        r->axis(QCPAxis::atLeft)->setLabel("patch row (top = 0)");
    }
    tokenPlot_->replot();
}

void StudyExplorer::redrawNeuronMap() {
    if (!store_ || image_ < 0) return;
    at::Tensor n;
    try {
        n = store_->normalisedNeurons(static_cast<std::size_t>(image_), targetBox_->currentText().toStdString(), siteBox_->currentText().toStdString());
    } catch (const std::exception& e) {
        status_->setText(e.what());
        return;
    }
    LayerMap m;
    m.layers = static_cast<int>(n.size(0));
    m.columns = static_cast<int>(n.size(1));
    m.values = toVector(n);
    m.columnLabel = "neuron (click: across images)";
    {  // the top-k neurons of every layer, by |normalised relevance|, last layer first
        layerTopK_->clear();
        const int k = std::min(topKBox_->value(), m.columns);
        for (int l = m.layers - 1; l >= 0; --l) {
            const at::Tensor row = n[l];
            const auto top = row.abs().topk(k);
            const at::Tensor idx = std::get<1>(top);
            for (int r = 0; r < k; ++r) {
                const int f = static_cast<int>(idx[r].item<std::int64_t>());
                auto* it = new QListWidgetItem(QString("layer %1  #%2  neuron %3  (%4)").arg(l).arg(r + 1).arg(f).arg(row[f].item<float>(), 0, 'f', 3));
                it->setData(Qt::UserRole, QPoint(l, f));
                layerTopK_->addItem(it);
            }
        }
    }
    buildLayerMapFigure(*neuronPlot_, QString("Neurons of %1 · %2 (per-layer abs-max normalised)").arg(targetBox_->currentText(), siteBox_->currentText()), m, 1.0,
                        QString());
    if (neuron_ >= 0) {
        if (auto* r = firstRect(neuronPlot_)) {
            auto* mark = new QCPItemRect(neuronPlot_);
            mark->setClipAxisRect(r);
            mark->topLeft->setAxes(r->axis(QCPAxis::atBottom), r->axis(QCPAxis::atLeft));
            mark->bottomRight->setAxes(r->axis(QCPAxis::atBottom), r->axis(QCPAxis::atLeft));
            mark->topLeft->setCoords(neuron_ - 0.5 - std::max(0.5, m.columns / 200.0), neuronLayer_ + 0.5);
            mark->bottomRight->setCoords(neuron_ + 0.5 + std::max(0.5, m.columns / 200.0), neuronLayer_ - 0.5);
            mark->setPen(QPen(Qt::black, 1.5));
            neuronPlot_->replot();
        }
    }
}

void StudyExplorer::selectNeuron(int layer, int feature) {
    if (!store_) return;
    if (layer < 0 || feature < 0) {  // no neuron selected
        neuron_ = neuronLayer_ = -1;
        profile_.reset();
        redrawNeuronMap();
        redrawProfile();
        updateNeuronTests();
        redrawVolcano();
        emit selectionChanged();
        return;
    }
    neuronLayer_ = layer;
    neuron_ = feature;
    redrawNeuronMap();
    updateNeuronTests();
    redrawVolcano();
    const std::string target = targetBox_->currentText().toStdString(), site = siteBox_->currentText().toStdString();
    auto store = store_;
    auto g = generation_;
    const int gen = *g;
    QPointer<StudyExplorer> self(this);
    status_->setText(QString("Neuron %1 of layer %2: reading it in every image…").arg(feature).arg(layer));
    // one profile job at a time (a pool of one thread), and a queued job that a newer request superseded
    // returns at once: rapid switching never piles up block reads that compete with the UI thread
    const int request = ++*profileRequest_;
    auto latest = profileRequest_;
    (void)QtConcurrent::run(profilePool_, [store, target, site, layer, feature, self, g, gen, request, latest] {
        if (*latest != request) return;
        std::shared_ptr<study::NeuronProfile> p;
        QString error;
        try {
            p = std::make_shared<study::NeuronProfile>(store->neuron(target, site, layer, feature));
        } catch (const std::exception& e) {
            error = e.what();
        }
        QMetaObject::invokeMethod(self, [self, p, error, g, gen, target, site, layer, feature] {
            if (!self || *g != gen) return;
            if (!p) {
                self->status_->setText(error);
                return;
            }
            if (self->targetBox_->currentText().toStdString() != target || self->siteBox_->currentText().toStdString() != site || self->neuron_ != feature ||
                self->neuronLayer_ != layer)
                return;  // the selection moved on
            self->profile_ = p;
            self->profileLabel_ = QString("Neuron %1, layer %2 (%3, %4)").arg(feature).arg(layer).arg(QString::fromStdString(target), QString::fromStdString(site));
            self->redrawProfile();
            self->status_->setText(QString("Neuron %1 of layer %2 (%3, %4).").arg(feature).arg(layer).arg(QString::fromStdString(target), QString::fromStdString(site)));
            emit self->neuronReady();
        }, Qt::QueuedConnection);
    });
    emit selectionChanged();
}

void StudyExplorer::redrawProfile() {
    profilePlot_->clearPlottables();
    profilePlot_->clearItems();
    topKList_->clear();
    profilePoints_ = 0;
    if (!store_ || !profile_ || neuron_ < 0) {
        profilePlot_->replot();
        return;
    }
    const auto sets = store_->setNames();
    const auto& imgs = store_->images();
    static const QColor colours[] = {QColor("#1f77b4"), QColor("#d62728"), QColor("#2ca02c"), QColor("#9467bd"), QColor("#ff7f0e"), QColor("#8c564b")};
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (std::size_t s = 0; s < sets.size(); ++s) {
        QVector<double> x, y;
        for (std::size_t i = 0; i < imgs.size(); ++i) {
            if (imgs[i].set != sets[s]) continue;
            const double jitter = (static_cast<double>((i * 2654435761u) % 1000) / 1000.0 - 0.5) * 0.5;  // deterministic
            x << static_cast<double>(s) + jitter;
            y << profile_->value[i];
        }
        auto* g = profilePlot_->addGraph();
        g->setData(x, y);
        g->setLineStyle(QCPGraph::lsNone);
        const bool masked = store_->study().sets[s].condition == "masked";
        const QColor c = colours[s % 6];
        g->setScatterStyle(QCPScatterStyle(masked ? QCPScatterStyle::ssTriangle : QCPScatterStyle::ssDisc, c, masked ? Qt::white : c, 5));
        g->setName(QString::fromStdString(sets[s]));
        ticker->addTick(static_cast<double>(s), QString::fromStdString(sets[s]));
        profilePoints_ += x.size();
        // the set's mean as a bar
        double m = 0;
        for (double v : y) m += v;
        if (!y.isEmpty()) {
            auto* line = new QCPItemLine(profilePlot_);
            line->start->setCoords(s - 0.35, m / y.size());
            line->end->setCoords(s + 0.35, m / y.size());
            line->setPen(QPen(Qt::black, 2));
        }
    }
    profilePlot_->xAxis->setTicker(ticker);
    profilePlot_->xAxis->setRange(-0.6, static_cast<double>(sets.size()) - 0.4);
    profilePlot_->yAxis->setRange(-1.05, 1.05);
    profilePlot_->yAxis->setLabel("normalised relevance");
    profilePlot_->xAxis->setTickLabelRotation(-30);  // labels end at their tick: the last set's label stays inside the plot
    if (profilePlot_->plotLayout()->rowCount() < 2) {
        profilePlot_->plotLayout()->insertRow(0);
        profilePlot_->plotLayout()->addElement(0, 0, new QCPTextElement(profilePlot_, "", QFont("sans", 9, QFont::Bold)));
    }
    if (auto* title = qobject_cast<QCPTextElement*>(profilePlot_->plotLayout()->element(0, 0)))
        title->setText(profileLabel_);
    profilePlot_->replot();
    // the images where it is in the top-k, best rank first
    std::vector<std::size_t> hits;
    for (std::size_t i = 0; i < profile_->rank.size(); ++i)
        if (profile_->rank[i] <= topKBox_->value()) hits.push_back(i);
    std::sort(hits.begin(), hits.end(), [&](auto a, auto b) { return profile_->rank[a] < profile_->rank[b]; });
    for (auto i : hits) {
        auto* it = new QListWidgetItem(QString("%1/%2: rank %3, value %4")
                                           .arg(QString::fromStdString(imgs[i].set), QString::fromStdString(imgs[i].stem))
                                           .arg(profile_->rank[i])
                                           .arg(profile_->value[i], 0, 'f', 3));
        it->setData(Qt::UserRole, static_cast<int>(i));
        topKList_->addItem(it);
    }
}

void StudyExplorer::redrawConsistency() {
    const QString path = QString::fromStdString(store_->dir()) + "/analysis/consistency.csv";
    CsvTableModel t;
    std::vector<ConsistencySeries> series;
    try {
        if (!QFileInfo::exists(path)) throw InputError(path.toStdString() + " not found (run study analyze)");
        t.load(path);
        std::map<std::pair<QString, QString>, std::vector<double>> curves, lows, highs;
        // the bootstrap interval (BCa where defined, else percentile), when the analysis computed one
        const bool ci = t.column("ci_bca_low") >= 0 && t.column("ci_percentile_low") >= 0;
        bool anyCi = false;
        for (int r = 0; r < t.rowCount(); ++r) {
            const std::pair<QString, QString> key{t.cell(r, t.column("set")), t.cell(r, t.column("site"))};
            auto& c = curves[key];
            auto& lo = lows[key];
            auto& hi = highs[key];
            const int layer = t.cell(r, t.column("layer")).toInt();
            if (static_cast<int>(c.size()) <= layer) {
                c.resize(static_cast<std::size_t>(layer) + 1, 0);
                lo.resize(c.size(), std::nan(""));
                hi.resize(c.size(), std::nan(""));
            }
            c[static_cast<std::size_t>(layer)] = t.cell(r, t.column("consistency_percent")).toDouble();
            if (!ci) continue;
            bool okL = false, okH = false;
            double l = t.cell(r, t.column("ci_bca_low")).toDouble(&okL), h = t.cell(r, t.column("ci_bca_high")).toDouble(&okH);
            if (!okL || !okH || !std::isfinite(l) || !std::isfinite(h)) {
                l = t.cell(r, t.column("ci_percentile_low")).toDouble(&okL);
                h = t.cell(r, t.column("ci_percentile_high")).toDouble(&okH);
            }
            if (okL && okH) {
                lo[static_cast<std::size_t>(layer)] = l;
                hi[static_cast<std::size_t>(layer)] = h;
                anyCi = true;
            }
        }
        static const QColor colours[] = {QColor("#1f77b4"), QColor("#d62728"), QColor("#2ca02c"), QColor("#9467bd")};
        std::map<QString, int> setIndex;
        for (const auto& [k, v] : curves) {
            const int si = setIndex.emplace(k.first, static_cast<int>(setIndex.size())).first->second;
            series.push_back({k.first + " · " + k.second, v, colours[si % 4], k.second == "final", k.second == "final", {}, {}});
            if (anyCi) {
                series.back().low = lows[k];
                series.back().high = highs[k];
            }
        }
        QStringList missing;  // sets with no row: fewer than 2 images passed the confidence threshold
        for (const auto& set : store_->setNames())
            if (!setIndex.count(QString::fromStdString(set))) missing << QString::fromStdString(set);
        buildConsistencyFigure(*consistencyPlot_, "Consistency of the top-ranked neuron per layer", series,
                               "From analysis/consistency.csv; block output ('final') dashed with squares, post-GELU solid." +
                                   QString(anyCi ? " Bars: bootstrap CI over images (BCa, else percentile; level and resamples in analysis-settings.json)." : "") +
                                   (missing.isEmpty() ? QString() : " No curve for " + missing.join(", ") + ": fewer than 2 of its images pass the confidence threshold."));
    } catch (const std::exception& e) {
        buildConsistencyFigure(*consistencyPlot_, "Consistency", {}, QString::fromUtf8(e.what()));
    }
}

void StudyExplorer::redrawSimilarity() {
    if (!store_) return;
    const QString path = QString::fromStdString(store_->dir()) + "/analysis/similarity.csv";
    LabelLayerGrid grid;
    const QString set = simSetBox_->currentText(), site = siteBox_->currentText();
    try {
        if (!QFileInfo::exists(path)) throw InputError(path.toStdString() + " not found (run study analyze)");
        CsvTableModel t;
        t.load(path);
        std::map<QString, std::map<int, std::pair<double, bool>>> cells;
        std::map<QString, std::map<int, double>> sems;
        for (int r = 0; r < t.rowCount(); ++r) {
            if (t.cell(r, t.column("set")) != set || t.cell(r, t.column("site")) != site) continue;
            const QString label = t.cell(r, t.column("label"));
            const int layer = t.cell(r, t.column("layer")).toInt();
            if (!grid.labels.contains(label)) grid.labels << label;
            cells[label][layer] = {t.cell(r, t.column("mean")).toDouble(), t.cell(r, t.column("significant")) == "true"};
            sems[label][layer] = t.cell(r, t.column("sem")).toDouble();
            grid.layers = std::max(grid.layers, layer + 1);
        }
        if (grid.labels.isEmpty()) throw InputError("no similarity rows for set " + set.toStdString() + ", site " + site.toStdString());
        for (const auto& l : grid.labels)
            for (int k = 0; k < grid.layers; ++k) {
                grid.values.push_back(semBox_->isChecked() ? sems[l][k] : cells[l][k].first);
                grid.significant.push_back(cells[l][k].second);
            }
        const QString title = QString("%1 of the cosine similarity to the reference · %2 · %3").arg(semBox_->isChecked() ? "SEM" : "Mean", set, site);
        if (semBox_->isChecked())
            buildSemHeatmap(*similarityPlot_, title, grid, "Click a cell: that label and layer everywhere.");
        else
            buildSimilarityHeatmap(*similarityPlot_, title, grid, parseSignificanceStyle(styleBox_->currentData().toString()),
                                   "q < 0.05 (BH) significant. Click a cell: that label and layer everywhere.");
        similarityLabels_ = grid.labels;
        const QString selLabel = selectedLabel_;
        const int row = grid.labels.indexOf(selLabel);
        if (row >= 0) {
            if (auto* r = firstRect(similarityPlot_)) {
                const int layer = selectedLayer_;
                const double y = grid.labels.size() - 1 - row;
                auto* mark = new QCPItemRect(similarityPlot_);
                mark->setClipAxisRect(r);
                mark->topLeft->setAxes(r->axis(QCPAxis::atBottom), r->axis(QCPAxis::atLeft));
                mark->bottomRight->setAxes(r->axis(QCPAxis::atBottom), r->axis(QCPAxis::atLeft));
                mark->topLeft->setCoords(layer - 0.5, y + 0.5);
                mark->bottomRight->setCoords(layer + 0.5, y - 0.5);
                mark->setPen(QPen(QColor(255, 170, 0), 2.5));
                similarityPlot_->replot();
            }
        }
    } catch (const std::exception& e) {
        similarityPlot_->clearPlottables();
        similarityPlot_->clearItems();
        similarityPlot_->plotLayout()->clear();
        similarityPlot_->plotLayout()->addElement(0, 0, new QCPTextElement(similarityPlot_, QString::fromUtf8(e.what()), QFont("sans", 9)));
        similarityPlot_->replot();
    }
}

void StudyExplorer::redrawAll() {
    redrawRelevance();
    redrawTokens();
    redrawNeuronMap();
    redrawProfile();
}

ExplorerState StudyExplorer::saveState() const {
    ExplorerState s;
    s.store = storeDir();
    s.setFilter = setBox_->currentData().toString();
    s.minConfidence = minConfBox_->value();
    s.image = image_ >= 0 && store_ ? QString::fromStdString(store_->images()[static_cast<std::size_t>(image_)].set + "/" +
                                                              store_->images()[static_cast<std::size_t>(image_)].stem)
                                    : QString();
    s.target = currentTarget();
    s.site = currentSite();
    s.layer = currentLayer();
    s.neuronLayer = neuronLayer_;
    s.neuron = neuron_;
    s.limits = limitsBox_->currentData().toString();
    s.fixedLimit = fixedLimitBox_->value();
    s.percentile = percentileBox_->value();
    s.alpha = alphaSlider_->value();
    s.grayscale = grayBox_->isChecked();
    s.bilinear = smoothBox_->isChecked();
    s.topK = topKBox_->value();
    s.maxQ = maxQBox_->value();
    s.tableLayer = tableLayerBox_->value();
    s.search = searchEdit_->text();
    s.similaritySet = simSetBox_->currentText();
    s.significanceStyle = styleBox_->currentData().toString();
    s.sem = semBox_->isChecked();
    s.analysisTab = analysisTabs_->currentIndex();
    return s;
}

void StudyExplorer::restoreState(const ExplorerState& s) {
    pendingState_ = s;
    if (!s.store.isEmpty() && s.store != storeDir()) {
        openStore(s.store);  // the rest follows in applyPendingState()
        return;
    }
    applyPendingState();
}

void StudyExplorer::applyPendingState() {
    if (!pendingState_ || !store_) return;
    const ExplorerState s = *pendingState_;
    pendingState_.reset();
    limitsBox_->setCurrentIndex(std::max(0, limitsBox_->findData(s.limits)));
    fixedLimitBox_->setValue(s.fixedLimit);
    percentileBox_->setValue(s.percentile);
    alphaSlider_->setValue(s.alpha);
    grayBox_->setChecked(s.grayscale);
    smoothBox_->setChecked(s.bilinear);
    topKBox_->setValue(s.topK);
    maxQBox_->setValue(s.maxQ);
    styleBox_->setCurrentIndex(std::max(0, styleBox_->findData(s.significanceStyle)));
    semBox_->setChecked(s.sem);
    simSetBox_->setCurrentText(s.similaritySet);
    analysisTabs_->setCurrentIndex(s.analysisTab);
    selectSite(s.site);
    selectTarget(s.target);
    selectLayer(s.layer);
    setMinConfidence(s.minConfidence);
    setSetFilter(s.setFilter);
    for (std::size_t i = 0; i < store_->images().size(); ++i)
        if (QString::fromStdString(store_->images()[i].set + "/" + store_->images()[i].stem) == s.image) selectImage(static_cast<int>(i));
    tableLayerBox_->setValue(s.tableLayer);
    searchEdit_->setText(s.search);
    if (s.neuron >= 0) selectNeuron(s.neuronLayer, s.neuron);
}

}  // namespace biasscope::ui
