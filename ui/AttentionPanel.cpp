#include "AttentionPanel.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QStandardItemModel>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent>
#include <cmath>
#include <tuple>
#include <qcustomplot.h>

#include <torch/types.h>

#include "attention/Scores.h"
#include "ExportMenu.h"
#include "common/Error.h"
#include "figures/AttentionFigures.h"
#include "figures/FigureExport.h"

namespace biasscope::ui {

struct ScoreOutcome {
    attention::AttentionRunResult result;
    QString error;
    bool cancelled = false;
};

struct ImageOutcome {
    attention::MapSample sample;
    int index = 0;
    QString error;
};

namespace {

std::shared_ptr<const ScoreOutcome> runScoresJob(attention::AttentionRunOptions o, std::shared_ptr<std::atomic<bool>> cancel, QObject* panel) {
    auto out = std::make_shared<ScoreOutcome>();
    try {
        JobControl job;
        job.cancel = cancel.get();
        job.progress = [panel](double f, const std::string& stage) {
            QMetaObject::invokeMethod(panel, "setProgressText", Qt::QueuedConnection, Q_ARG(double, f), Q_ARG(QString, QString::fromStdString(stage)));
        };
        out->result = attention::runAttentionScores(o, job);
    } catch (const Cancelled&) {
        out->cancelled = true;
    } catch (const std::exception& e) {
        out->error = QString::fromStdString(e.what());
    }
    return out;
}

QString meanStd(double m, double s) {
    if (std::isnan(m)) return "n/a";
    return QString::number(m, 'f', 3) + " ± " + QString::number(std::isnan(s) ? 0.0 : s, 'f', 3);
}

// [3, S, S] normalised pixels -> RGB image
QImage toImage(const at::Tensor& pixels, const std::vector<double>& mean, const std::vector<double>& stdv) {
    const auto S = static_cast<int>(pixels.size(1));
    const at::Tensor m = torch::tensor(std::vector<float>(mean.begin(), mean.end())).view({3, 1, 1});
    const at::Tensor s = torch::tensor(std::vector<float>(stdv.begin(), stdv.end())).view({3, 1, 1});
    const at::Tensor rgb = (pixels * s + m).clamp(0, 1).mul(255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
    QImage img(S, S, QImage::Format_RGB888);
    for (int y = 0; y < S; ++y) std::memcpy(img.scanLine(y), rgb[y].data_ptr<std::uint8_t>(), static_cast<std::size_t>(S) * 3);
    return img;
}

// Per pixel: colour(grey value of the image, map value in [0, 1]) -> RGB, over the image's grey version.
template <typename Colour>
QImage blendOverGrey(const QImage& base, const at::Tensor& values, Colour colour) {
    const at::Tensor vt = values.contiguous();
    const float* v = vt.data_ptr<float>();
    QImage out = base.convertToFormat(QImage::Format_RGB888);
    const int S = out.width();
    for (int y = 0; y < S; ++y) {
        uchar* line = out.scanLine(y);
        for (int x = 0; x < S; ++x) {
            const QRgb c = colour(qGray(line[3 * x], line[3 * x + 1], line[3 * x + 2]), std::clamp(static_cast<double>(v[y * S + x]), 0.0, 1.0));
            line[3 * x] = static_cast<uchar>(qRed(c));
            line[3 * x + 1] = static_cast<uchar>(qGreen(c));
            line[3 * x + 2] = static_cast<uchar>(qBlue(c));
        }
    }
    return out;
}

// the map in magma over the grey image, alpha 0.55
QImage overlay(const QImage& base, const at::Tensor& map) {
    QCPColorGradient magma;
    applyMagmaGradient(magma);
    return blendOverGrey(base, map, [&](int g, double m) {
        const QRgb c = magma.color(m, QCPRange(0, 1));
        return qRgb(static_cast<int>(0.45 * g + 0.55 * qRed(c)), static_cast<int>(0.45 * g + 0.55 * qGreen(c)), static_cast<int>(0.45 * g + 0.55 * qBlue(c)));
    });
}

// the mask in turquoise over the darkened grey image
QImage maskImage(const QImage& base, const at::Tensor& mask) {
    return blendOverGrey(base, mask, [](int g, double a) {
        g /= 3;
        return qRgb(static_cast<int>(g + a * (255 - g) * 0.15), static_cast<int>(g + a * (255 - g) * 0.85), static_cast<int>(g + a * (255 - g) * 0.75));
    });
}

QLabel* imageBox(const QString& tip) {
    auto* l = new QLabel;
    l->setMinimumSize(200, 200);
    l->setAlignment(Qt::AlignCenter);
    l->setFrameShape(QFrame::StyledPanel);
    l->setToolTip(tip);
    return l;
}

}  // namespace

AttentionPanel::AttentionPanel(QWidget* parent) : QWidget(parent), cancel_(std::make_shared<std::atomic<bool>>(false)) {
    auto* split = new QSplitter(Qt::Horizontal, this);
    auto* outer = new QHBoxLayout(this);
    outer->addWidget(split);

    // ---- the run form ----
    auto* form = new QWidget;
    auto* fl = new QFormLayout(form);
    datasetBox_ = new QComboBox;
    datasetBox_->addItem("Waterbirds layout (metadata.csv + bird masks)", "waterbirds");
    datasetBox_->addItem("CelebAMask-HQ (parts, 40 attributes)", "celeba");
    rootEdit_ = new QLineEdit;
    auto* rootRow = new QHBoxLayout;
    rootRow->addWidget(rootEdit_);
    auto* browse = new QPushButton("…");
    browse->setMaximumWidth(30);
    rootRow->addWidget(browse);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString p = QFileDialog::getExistingDirectory(this, "Data folder");
        if (!p.isEmpty()) rootEdit_->setText(p);
    });
    modelList_ = new QListWidget;
    modelList_->setMaximumHeight(90);
    auto* modelButtons = new QHBoxLayout;
    auto* addModel = new QPushButton("Add model…");
    auto* removeModel = new QPushButton("Remove");
    modelButtons->addWidget(addModel);
    modelButtons->addWidget(removeModel);
    connect(addModel, &QPushButton::clicked, this, [this] {
        for (const QString& p : QFileDialog::getOpenFileNames(this, "Model weights", {}, "Weights (*.safetensors *.pth *.pt);;ViT config (config.json)")) {
            modelList_->addItem(QFileInfo(p).fileName() == "config.json" ? QFileInfo(p).absolutePath() : p);
            modelBox_->addItem(QFileInfo(p).fileName(), p);
        }
    });
    connect(removeModel, &QPushButton::clicked, this, [this] {
        const int r = modelList_->currentRow();
        if (r >= 0) delete modelList_->takeItem(r), modelBox_->removeItem(r);
    });
    mapBox_ = new QComboBox;
    mapBox_->addItem("GradCAM (published)", "gradcam");
    mapBox_->addItem("AttnLRP input heatmap (ViT)", "attnlrp");
    mapBox_->addItem("CP-LRP input heatmap (ViT)", "cp-lrp");
    scoreBox_ = new QComboBox;
    scoreBox_->addItem("mask score (map vs every mask)", "mask");
    scoreBox_->addItem("heatmap score (map of A vs map of the confounder)", "heatmap");
    attributeEdit_ = new QLineEdit;
    attributeEdit_->setPlaceholderText("CelebA: attribute A, e.g. Blond_Hair");
    confounderEdit_ = new QLineEdit("Male");
    splitBox_ = new QComboBox;
    splitBox_->addItems({"test", "val", "train"});
    sizeBox_ = new QSpinBox;
    sizeBox_->setRange(16, 1024);
    sizeBox_->setValue(224);
    outEdit_ = new QLineEdit;
    fl->addRow("Data set", datasetBox_);
    fl->addRow("Data folder", rootRow);
    fl->addRow("Models", modelList_);
    fl->addRow("", modelButtons);
    fl->addRow("Map", mapBox_);
    fl->addRow("Score", scoreBox_);
    fl->addRow("Attribute", attributeEdit_);
    fl->addRow("Confounder", confounderEdit_);
    fl->addRow("Split", splitBox_);
    fl->addRow("Input size", sizeBox_);
    fl->addRow("Output folder", outEdit_);
    auto* buttons = new QHBoxLayout;
    runButton_ = new QPushButton("Run scores");
    cancelButton_ = new QPushButton("Cancel");
    auto* openResult = new QPushButton("Open result…");
    buttons->addWidget(runButton_);
    buttons->addWidget(cancelButton_);
    buttons->addWidget(openResult);
    fl->addRow(buttons);
    progress_ = new QProgressBar;
    progress_->setRange(0, 1000);
    fl->addRow(progress_);
    status_ = new QLabel("Set up a run, or open a finished run's .json sidecar.");
    status_->setWordWrap(true);
    fl->addRow(status_);
    form->setMaximumWidth(430);
    split->addWidget(form);
    connect(runButton_, &QPushButton::clicked, this, &AttentionPanel::runScores);
    connect(cancelButton_, &QPushButton::clicked, this, &AttentionPanel::cancel);
    connect(openResult, &QPushButton::clicked, this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, "Attention-IoU result", {}, "Score sidecar (*.json)");
        if (!p.isEmpty()) addResult(p);
    });

    // ---- results ----
    tabs_ = new QTabWidget;
    split->addWidget(tabs_);
    split->setStretchFactor(1, 1);

    auto* imageTab = new QWidget;
    auto* il = new QVBoxLayout(imageTab);
    auto* nav = new QHBoxLayout;
    modelBox_ = new QComboBox;
    modelBox_->setMinimumContentsLength(18);
    imageBox_ = new QSpinBox;
    imageBox_->setRange(0, 0);
    imageSlider_ = new QSlider(Qt::Horizontal);
    imageSlider_->setRange(0, 0);
    maskBox_ = new QComboBox;
    nav->addWidget(new QLabel("Model"));
    nav->addWidget(modelBox_);
    nav->addWidget(new QLabel("Image"));
    nav->addWidget(imageBox_);
    nav->addWidget(imageSlider_, 1);
    nav->addWidget(new QLabel("Mask"));
    nav->addWidget(maskBox_);
    il->addLayout(nav);
    auto* grid = new QGridLayout;
    imageLabel_ = imageBox("the image as the model sees it (resize, centre crop)");
    mapLabel_ = imageBox("the map of the explained output (magma), over the grey image");
    maskLabel_ = imageBox("the chosen mask");
    confLabel_ = imageBox("CelebA: the confounder's map (the heatmap score compares it with the map of A)");
    grid->addWidget(new QLabel("Image"), 0, 0);
    grid->addWidget(new QLabel("Map"), 0, 1);
    grid->addWidget(new QLabel("Mask"), 0, 2);
    grid->addWidget(new QLabel("Confounder's map"), 0, 3);
    grid->addWidget(imageLabel_, 1, 0);
    grid->addWidget(mapLabel_, 1, 1);
    grid->addWidget(maskLabel_, 1, 2);
    grid->addWidget(confLabel_, 1, 3);
    il->addLayout(grid);
    imageScores_ = new QLabel;
    imageScores_->setWordWrap(true);
    imageScores_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    il->addWidget(imageScores_);
    il->addStretch();
    tabs_->addTab(imageTab, "Image");
    connect(imageBox_, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) {
        imageSlider_->setValue(v);
        showImage(v);
    });
    connect(imageSlider_, &QSlider::valueChanged, imageBox_, &QSpinBox::setValue);
    connect(maskBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { redrawImage(); });
    connect(modelBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { showImage(imageBox_->value()); });

    auto* tableTab = new QWidget;
    auto* tl = new QVBoxLayout(tableTab);
    resultBox_ = new QComboBox;
    tl->addWidget(resultBox_);
    // Attention-IoU (the study's score) or one of the localisation measures of a mask run (not published)
    measureBox_ = new QComboBox;
    measureBox_->addItem("Attention-IoU (published)", "");
    measureBox_->addItem("Relevance mass accuracy (not published)", "mass_accuracy");
    measureBox_->addItem("Relevance rank accuracy (not published)", "rank_accuracy");
    measureBox_->addItem("Localisation AUC (not published)", "auc");
    measureBox_->setToolTip("Mask runs also measure localisation: the share of the map inside the mask, the share of the mask among the map's top pixels, "
                            "and the ROC AUC of the map for the mask (docs/attention-iou.md)");
    tl->addWidget(measureBox_);
    table_ = new QTableWidget;
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    tl->addWidget(table_, 1);
    resultNote_ = new QLabel;
    resultNote_->setWordWrap(true);
    tl->addWidget(resultNote_);
    tabs_->addTab(tableTab, "Scores");
    connect(resultBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, &AttentionPanel::showResult);
    connect(measureBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { showResult(resultBox_->currentIndex()); });

    auto* figTab = new QWidget;
    auto* fgl = new QVBoxLayout(figTab);
    auto* figControls = new QHBoxLayout;
    figureBox_ = new QComboBox;
    figureBox_->addItem("Mask-score bars (all loaded mask results)");
    figureBox_->addItem("Waterbirds: score vs training bias");
    figureBox_->addItem("CelebA: heatmap score vs |MCC| (magma: worst-group accuracy)");
    auto* exportButton = new QPushButton("Export…");
    figControls->addWidget(figureBox_, 1);
    figControls->addWidget(exportButton);
    fgl->addLayout(figControls);
    figurePlot_ = new QCustomPlot;
    figurePlot_->setMinimumSize(480, 340);
    fgl->addWidget(figurePlot_, 1);
    tabs_->addTab(figTab, "Figures");
    connect(figureBox_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) { setFigure(static_cast<Figure>(i)); });
    connect(exportButton, &QPushButton::clicked, this, [this] {
        QString p;
        FigureExportOptions fo;
        if (!askFigureExport(this, "attention-iou", p, fo)) return;
        try {
            exportFigure(p, fo);
            status_->setText("Exported " + p + " (+ .json sidecar)");
        } catch (const std::exception& e) {
            QMessageBox::warning(this, "Export", e.what());
        }
    });
    installExportMenu(figurePlot_, "attention-iou", [this] { return figureProvenance(); });

    connect(&scoreWatcher_, &QFutureWatcherBase::finished, this, &AttentionPanel::onScoresFinished);
    connect(&imageWatcher_, &QFutureWatcherBase::finished, this, &AttentionPanel::onImageFinished);
    setBusy(false);
    redrawFigure();
}

AttentionPanel::~AttentionPanel() {
    cancel_->store(true);
    scoreWatcher_.waitForFinished();
    imageWatcher_.waitForFinished();
}

void AttentionPanel::setRequest(const attention::AttentionRunOptions& o) {
    datasetBox_->setCurrentIndex(datasetBox_->findData(QString::fromStdString(o.dataset)));
    rootEdit_->setText(QString::fromStdString(o.root));
    modelList_->clear();
    {
        QSignalBlocker b(modelBox_);
        modelBox_->clear();
        for (const auto& m : o.models) {
            modelList_->addItem(QString::fromStdString(m));
            modelBox_->addItem(QFileInfo(QString::fromStdString(m)).fileName(), QString::fromStdString(m));
        }
    }
    const char* map = o.map == attention::MapKind::GradCam ? "gradcam" : o.map == attention::MapKind::AttnLrp ? "attnlrp" : "cp-lrp";
    mapBox_->setCurrentIndex(mapBox_->findData(map));
    scoreBox_->setCurrentIndex(o.score == attention::ScoreKind::Mask ? 0 : 1);
    attributeEdit_->setText(QString::fromStdString(o.attribute));
    confounderEdit_->setText(QString::fromStdString(o.confounder));
    splitBox_->setCurrentText(QString::fromStdString(o.split));
    sizeBox_->setValue(o.size);
    outEdit_->setText(QString::fromStdString(o.outDir));
}

attention::AttentionRunOptions AttentionPanel::request() const {
    attention::AttentionRunOptions o;
    o.dataset = datasetBox_->currentData().toString().toStdString();
    o.root = rootEdit_->text().toStdString();
    for (int i = 0; i < modelList_->count(); ++i) o.models.push_back(modelList_->item(i)->text().toStdString());
    o.map = attention::parseMapKind(mapBox_->currentData().toString().toStdString());
    o.score = scoreBox_->currentData().toString() == "mask" ? attention::ScoreKind::Mask : attention::ScoreKind::Heatmap;
    o.attribute = attributeEdit_->text().toStdString();
    o.confounder = confounderEdit_->text().toStdString();
    o.split = splitBox_->currentText().toStdString();
    o.size = sizeBox_->value();
    o.outDir = outEdit_->text().toStdString();
    return o;
}

void AttentionPanel::runScores() {
    if (busy()) return;
    const auto o = request();
    if (o.root.empty() || o.models.empty() || o.outDir.empty()) {
        status_->setText("Choose the data folder, at least one model and an output folder first.");
        emit scoresFinished(false);
        return;
    }
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    setBusy(true);
    progress_->setValue(0);
    status_->setText("Starting (reading the data set)…");
    scoreWatcher_.setFuture(QtConcurrent::run([o, c = cancel_, self = this] { return runScoresJob(o, c, self); }));
}

void AttentionPanel::cancel() {
    if (!busy()) return;
    cancel_->store(true);
    status_->setText("Cancelling after the current batch (finished models are kept)…");
}

bool AttentionPanel::busy() const { return scoreWatcher_.isRunning(); }

void AttentionPanel::setProgressText(double fraction, const QString& stage) {
    progress_->setValue(static_cast<int>(fraction * 1000));
    status_->setText(stage);
}

void AttentionPanel::setBusy(bool b) {
    runButton_->setEnabled(!b);
    cancelButton_->setEnabled(b);
}

void AttentionPanel::onScoresFinished() {
    const auto out = scoreWatcher_.result();
    setBusy(false);
    if (out->cancelled) {
        status_->setText("Cancelled. Models finished before the cancel are kept in the output folder; running again resumes.");
        emit scoresFinished(false);
        return;
    }
    if (!out->error.isEmpty()) {
        status_->setText("Error: " + out->error);
        emit scoresFinished(false);
        return;
    }
    progress_->setValue(1000);
    const auto& r = out->result;
    QString s = QString("%1 images × %2 models (%3 resumed). ").arg(r.images).arg(r.modelNames.size()).arg(r.resumedModels);
    if (!r.warnings.empty()) s += QString("%1 map warning(s), e.g. %2. ").arg(r.warnings.size()).arg(QString::fromStdString(r.warnings.front()));
    const bool added = addResult(QString::fromStdString(r.sidecarPath));
    status_->setText(s + (added ? "Result added." : status_->text()));
    showImage(imageBox_->value());
    emit scoresFinished(added);
}

bool AttentionPanel::addResult(const QString& path) {
    try {
        auto s = attention::readScoreSummary(path.toStdString());
        results_.push_back(std::move(s));
    } catch (const std::exception& e) {
        status_->setText(QString("Could not read %1: %2").arg(path, e.what()));
        return false;
    }
    const auto& s = results_.back();
    QString label = QString::fromStdString(s.score + " · " + s.map + " · ");
    label += s.dataset == "waterbirds" ? (std::isnan(s.trainAgreement) ? QString("waterbirds") : QString("bias %1").arg(s.trainAgreement, 0, 'f', 2))
                                       : QString::fromStdString(s.attribute + " / " + s.confounder);
    label += " · " + QFileInfo(path).dir().dirName();
    resultBox_->addItem(label);
    resultBox_->setCurrentIndex(resultBox_->count() - 1);
    redrawFigure();
    return true;
}

void AttentionPanel::setMeasure(int index) { measureBox_->setCurrentIndex(index); }

void AttentionPanel::showResult(int index) {
    if (index < 0 || index >= static_cast<int>(results_.size())) return;
    const auto& s = results_[static_cast<std::size_t>(index)];
    // the measure: Attention-IoU, or a localisation measure when this result has them
    const bool hasLocalisation = !s.localisationMean.empty();
    for (int i = 1; i < measureBox_->count(); ++i)
        if (auto* model = qobject_cast<QStandardItemModel*>(measureBox_->model())) model->item(i)->setEnabled(hasLocalisation);
    if (!hasLocalisation && measureBox_->currentIndex() != 0) {
        measureBox_->setCurrentIndex(0);  // re-enters showResult
        return;
    }
    const std::string measure = measureBox_->currentData().toString().toStdString();
    attention::Matrix mean = s.mean, sd = s.std;
    if (!measure.empty()) std::tie(mean, sd) = s.localisationTable(measure);
    const bool uniform = !s.uniform.empty() && measure.empty();
    table_->clear();
    table_->setColumnCount(static_cast<int>(s.columns.size()));
    table_->setRowCount(static_cast<int>(s.rows.size()) + (uniform ? 1 : 0));
    QStringList cols, rows;
    for (const auto& c : s.columns) cols << QString::fromStdString(c);
    for (const auto& r : s.rows) rows << QString::fromStdString(r);
    if (uniform) rows << "uniform map (all)";
    table_->setHorizontalHeaderLabels(cols);
    table_->setVerticalHeaderLabels(rows);
    for (std::size_t r = 0; r < s.rows.size(); ++r)
        for (std::size_t c = 0; c < s.columns.size(); ++c)
            table_->setItem(static_cast<int>(r), static_cast<int>(c), new QTableWidgetItem(meanStd(mean[r][c], sd[r][c])));
    if (uniform)
        for (std::size_t c = 0; c < s.columns.size() && c < s.uniform.back().size(); ++c)
            table_->setItem(static_cast<int>(s.rows.size()), static_cast<int>(c), new QTableWidgetItem(QString::number(s.uniform.back()[c], 'f', 3)));
    table_->resizeColumnsToContents();
    QString note = QString("Mean ± population std over %1 model(s): %2. ").arg(s.models.size()).arg(QString::fromStdString(s.path));
    if (!measure.empty())
        note += "A localisation measure beside Attention-IoU, not part of the published study: per image against the mask binarised at 0.5, "
                "undefined values (empty mask, all-zero map) skipped. ";
    if (uniform) note += "The uniform-map row is the score of a uniform map against the same masks (the published 'Uniform Attention' row is one model's GradCAM scores: a fixed bug). ";
    if (s.map != "GradCAM") note += "LRP maps: positive relevance only (a labelled deviation; the study uses GradCAM). ";
    if (s.mcc) note += QString("MCC(pred A, pred %1) = %2. ").arg(QString::fromStdString(s.confounder), meanStd(s.mcc->first, s.mcc->second));
    if (s.worstGroupAccuracy) note += QString("Worst-group accuracy = %1.").arg(meanStd(s.worstGroupAccuracy->first, s.worstGroupAccuracy->second));
    resultNote_->setText(note);
}

void AttentionPanel::showImage(int index) {
    if (modelBox_->count() == 0 || rootEdit_->text().isEmpty()) return;
    if (imageWatcher_.isRunning()) {
        pendingImage_ = index;  // the latest request wins
        return;
    }
    auto o = request();
    const std::string model = modelBox_->currentData().toString().toStdString();
    imageWatcher_.setFuture(QtConcurrent::run([o, model, index] {
        auto out = std::make_shared<ImageOutcome>();
        out->index = index;
        try {
            out->sample = attention::sampleMaps(o, model, static_cast<std::size_t>(index), 1);
        } catch (const std::exception& e) {
            out->error = QString::fromStdString(e.what());
        }
        return std::shared_ptr<const ImageOutcome>(out);
    }));
}

void AttentionPanel::onImageFinished() {
    const auto out = imageWatcher_.result();
    if (pendingImage_ >= 0) {
        const int next = pendingImage_;
        pendingImage_ = -1;
        if (next != out->index) {
            showImage(next);
            return;
        }
    }
    if (!out->error.isEmpty()) {
        imageScores_->setText("Error: " + out->error);
        emit imageReady(false);
        return;
    }
    image_ = out;
    splitSize_ = static_cast<int>(out->sample.splitSize);
    {
        QSignalBlocker b1(imageBox_), b2(imageSlider_), b3(maskBox_);
        imageBox_->setRange(0, std::max(0, splitSize_ - 1));
        imageSlider_->setRange(0, std::max(0, splitSize_ - 1));
        imageBox_->setValue(out->index);
        imageSlider_->setValue(out->index);
        if (maskBox_->count() != static_cast<int>(out->sample.maskNames.size())) {
            maskBox_->clear();
            for (const auto& m : out->sample.maskNames) maskBox_->addItem(QString::fromStdString(m));
            maskBox_->setCurrentIndex(static_cast<int>(out->sample.maskNames.size()) - 1);
        }
    }
    redrawImage();
    emit imageReady(true);
}

void AttentionPanel::redrawImage() {
    if (!image_) return;
    const auto& s = image_->sample;
    const QImage img = toImage(s.pixels[0], s.imageMean, s.imageStd);
    const auto show = [](QLabel* l, const QImage& i) { l->setPixmap(QPixmap::fromImage(i.scaled(200, 200, Qt::KeepAspectRatio, Qt::SmoothTransformation))); };
    show(imageLabel_, img);
    show(mapLabel_, overlay(img, s.map.maps[0]));
    const int mk = std::clamp(maskBox_->currentIndex(), 0, static_cast<int>(s.masks.size(1)) - 1);
    show(maskLabel_, maskImage(img, s.masks[0][mk]));
    if (s.confounderMap.maps.defined())
        show(confLabel_, overlay(img, s.confounderMap.maps[0]));
    else
        confLabel_->setText("(Waterbirds: none)");
    // this image's scores
    const at::Tensor p = s.map.maps[0].contiguous();
    const auto n = static_cast<std::size_t>(p.numel());
    QString text = QString("<b>%1</b> (%2, group %3, explained output %4, %5 on %6)<br>")
                       .arg(QFileInfo(QString::fromStdString(s.images[0])).fileName(), QString::fromStdString(s.modelName), QString::fromStdString(s.groupNames[0]))
                       .arg(s.map.explained.empty() ? -1 : s.map.explained[0])
                       .arg(QString::fromStdString(s.mapLabel), QString::fromStdString(s.modelDescription));
    text += "Attention-IoU with each mask (uniform map in brackets): ";
    QStringList parts;
    for (std::int64_t c = 0; c < s.masks.size(1); ++c) {
        const at::Tensor q = s.masks[0][c].contiguous();
        const double v = attention::attentionIoU(p.data_ptr<float>(), q.data_ptr<float>(), n);
        parts << QString("%1 %2 (%3)").arg(QString::fromStdString(s.maskNames[static_cast<std::size_t>(c)]), std::isnan(v) ? QString("n/a") : QString::number(v, 'f', 3),
                                           QString::number(attention::attentionIoU(torch::ones_like(q).data_ptr<float>(), q.data_ptr<float>(), n), 'f', 3));
    }
    text += parts.join(", ");
    if (s.confounderMap.maps.defined()) {
        const at::Tensor q = s.confounderMap.maps[0].contiguous();
        text += QString("<br>Heatmap score (map of A vs the confounder's map): %1").arg(attention::attentionIoU(p.data_ptr<float>(), q.data_ptr<float>(), n), 0, 'f', 3);
    }
    for (const auto& w : s.map.warnings) text += "<br><span style='color:#b00'>Warning: " + QString::fromStdString(w.message) + "</span>";
    imageScores_->setText(text);
}

void AttentionPanel::setFigure(Figure f) {
    figure_ = f;
    if (figureBox_->currentIndex() != static_cast<int>(f)) {
        QSignalBlocker b(figureBox_);
        figureBox_->setCurrentIndex(static_cast<int>(f));
    }
    redrawFigure();
}

void AttentionPanel::redrawFigure() { buildAttentionFigure(*figurePlot_, static_cast<AttentionFigure>(figure_), results_); }

QJsonObject AttentionPanel::figureProvenance() const {
    QJsonObject prov;
    prov["view"] = "Attention-IoU";
    prov["figure_kind"] = figureBox_->currentText();
    QJsonArray inputs;
    for (const auto& s : results_) inputs.append(QString::fromStdString(s.path));
    prov["results"] = inputs;
    return prov;
}

void AttentionPanel::exportFigure(const QString& path, const FigureExportOptions& options) { ui::exportFigure(*figurePlot_, path, options, figureProvenance()); }

int AttentionPanel::resultCount() const { return static_cast<int>(results_.size()); }
int AttentionPanel::tableRows() const { return table_->rowCount(); }
QString AttentionPanel::tableText(int r, int c) const {
    const auto* it = table_->item(r, c);
    return it ? it->text() : QString();
}
QString AttentionPanel::imageScoresText() const { return imageScores_->text(); }
QString AttentionPanel::statusText() const { return status_->text(); }
int AttentionPanel::figurePlottables() const { return figurePlot_->plottableCount(); }

}  // namespace biasscope::ui
