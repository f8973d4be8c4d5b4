#include "MainWindow.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QLineEdit>
#include <QSpinBox>
#include <QStandardPaths>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QMenu>
#include <QSettings>
#include <QToolButton>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <torch/types.h>

#include "AttentionPanel.h"
#include "BwrColorMap.h"
#include "DemoLauncher.h"
#include "common/Device.h"
#include "StudyExplorer.h"
#include "FaithfulnessDialog.h"
#include "RelevanceJob.h"
#include "TrainingPanel.h"
#include "attention/AttentionStudy.h"
#include "common/Error.h"
#include "explain/RelevanceExport.h"

namespace biasscope::ui {

struct MainWindow::State {
    std::shared_ptr<const model::VitModel> model;
    QString modelPath, imagePath, device = "auto";
    QImage image;
    std::shared_ptr<const RelevanceOutcome> outcome;
    double heatLimit = 0, neuronAbsMax = 0;
};

namespace {

QCPColorGradient bwr() {
    QCPColorGradient g;
    applyBwrGradient(g);
    return g;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), state_(std::make_unique<State>()), job_(new RelevanceJob(this)) {
    setWindowTitle("BiasScope");
    {
        QSettings q("BiasScope", "BiasScope");
        settings_.device = q.value("settings/device", "auto").toString();
        settings_.threads = q.value("settings/threads", 0).toInt();
        settings_.cacheDir = q.value("settings/cacheDir").toString();
        state_->device = settings_.device;
        if (settings_.threads > 0) configureCpuThreads(settings_.threads);
    }
    buildUi();
    connect(job_, &RelevanceJob::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(job_, &RelevanceJob::finished, this, &MainWindow::onFinished);
    connect(job_, &RelevanceJob::progress, this, [this](double f, const QString& stage) {
        progress_->setValue(static_cast<int>(f * 100));
        statusBar()->showMessage(stage);
    });
    setBusy(false);
}

MainWindow::~MainWindow() = default;

void MainWindow::buildUi() {
    auto* tb = addToolBar("Main");
    tb->setMovable(false);
    tb->addAction("Open model…", this, [this] {
        const QString p = QFileDialog::getExistingDirectory(this, "Open Hugging Face model directory");
        if (!p.isEmpty()) openModel(p);
    });
    tb->addAction("Open weights file…", this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, "Open weights", {}, "Weights (*.safetensors *.pth *.bin)");
        if (!p.isEmpty()) openModel(p);
    });
    tb->addAction("Open project…", this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, "Open project", {}, "BiasScope project (*.biasscope.json *.json)");
        if (p.isEmpty()) return;
        try {
            openProject(p);
        } catch (const std::exception& e) {
            QMessageBox::warning(this, "Open project", e.what());
        }
    });
    tb->addAction("Save project…", this, [this] {
        QString p = QFileDialog::getSaveFileName(this, "Save project", {}, "BiasScope project (*.biasscope.json)");
        if (p.isEmpty()) return;
        if (!p.endsWith(".json")) p += ".biasscope.json";
        try {
            saveProject(p);
        } catch (const std::exception& e) {
            QMessageBox::warning(this, "Save project", e.what());
        }
    });
    auto* recent = new QToolButton;
    recent->setText("Recent");
    recent->setPopupMode(QToolButton::InstantPopup);
    auto* recentMenu = new QMenu(recent);
    recent->setMenu(recentMenu);
    connect(recentMenu, &QMenu::aboutToShow, this, [this, recentMenu] {
        recentMenu->clear();
        const QStringList list = QSettings("BiasScope", "BiasScope").value("recentProjects").toStringList();
        if (list.isEmpty()) recentMenu->addAction("(no recent projects)")->setEnabled(false);
        for (const QString& p : list)
            recentMenu->addAction(p, this, [this, p] {
                try {
                    openProject(p);
                } catch (const std::exception& e) {
                    QMessageBox::warning(this, "Open project", e.what());
                }
            });
    });
    tb->addWidget(recent);
    tb->addAction("Open study store…", this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, "Study store (output of study run)");
        if (d.isEmpty()) return;
        explorer_->openStore(d);
        showTab(3);
    });
    tb->addAction("Settings…", this, [this] {
        QDialog d(this);
        d.setWindowTitle("BiasScope settings");
        auto* form = new QFormLayout(&d);
        auto* device = new QComboBox;
        device->setEditable(true);
        device->addItems({"auto", "cpu", "cuda", "cuda:0", "cuda:1"});
        device->setCurrentText(settings().device);
        auto* threads = new QSpinBox;
        threads->setRange(0, 256);
        threads->setSpecialValueText("all cores");
        threads->setValue(settings().threads);
        auto* cache = new QLineEdit(settings().cacheDir);
        form->addRow("Device (models, relevance, training)", device);
        form->addRow("CPU threads", threads);
        form->addRow("Cache folder (built-in demo)", cache);
        auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
        connect(buttons, &QDialogButtonBox::accepted, &d, &QDialog::accept);
        connect(buttons, &QDialogButtonBox::rejected, &d, &QDialog::reject);
        form->addRow(buttons);
        if (d.exec() == QDialog::Accepted) applySettings({device->currentText(), threads->value(), cache->text()});
    });
    tb->addAction("Demo", this, [this] { launchDemo(*this, settings().cacheDir + "/demo", 0.95); });
    tb->addAction("Open image…", this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, "Open image", {}, "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)");
        if (!p.isEmpty()) openImage(p);
    });

    auto* central = new QWidget;
    auto* outer = new QVBoxLayout(central);
    auto* controls = new QHBoxLayout;
    targetBox_ = new QComboBox;
    targetBox_->setMinimumContentsLength(14);
    ruleBox_ = new QComboBox;
    ruleBox_->addItem("CP-LRP (published)", "cp");
    ruleBox_->addItem("AttnLRP", "attnlrp");
    readoutBox_ = new QComboBox;
    readoutBox_->addItem("relevance (act × grad)", "relevance");
    readoutBox_->addItem("gradient (published)", "gradient");
    siteBox_ = new QComboBox;
    for (auto s : {explain::Site::Intermediate, explain::Site::Final, explain::Site::LnBefore, explain::Site::LnAfter, explain::Site::Attention})
        siteBox_->addItem(QString::fromStdString(explain::toString(s)), QString::fromStdString(explain::toString(s)));
    siteBox_->setItemText(0, "intermediate (post-GELU)");
    siteBox_->setItemText(1, "final (block output)");
    computeButton_ = new QPushButton("Compute relevance");
    cancelButton_ = new QPushButton("Cancel");
    flipButton_ = new QPushButton("Pixel flipping…");
    flipButton_->setToolTip("How faithful are the maps? Remove patches most / least relevant first and watch the target logit (every map kind)");
    flipButton_->setEnabled(false);
    for (auto [label, w] : std::initializer_list<std::pair<const char*, QWidget*>>{{"Target", targetBox_}, {"Rule", ruleBox_}, {"Readout", readoutBox_}, {"Site", siteBox_}}) {
        controls->addWidget(new QLabel(label));
        controls->addWidget(w);
    }
    controls->addWidget(computeButton_);
    controls->addWidget(cancelButton_);
    controls->addWidget(flipButton_);
    controls->addStretch();
    outer->addLayout(controls);
    auto* info = new QHBoxLayout;
    modelLabel_ = new QLabel("No model");
    imageLabel_ = new QLabel("No image");
    info->addWidget(modelLabel_);
    info->addSpacing(20);
    info->addWidget(imageLabel_);
    info->addStretch();
    outer->addLayout(info);

    auto* split = new QSplitter(Qt::Horizontal);
    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    imagePlot_ = new QCustomPlot;
    imagePlot_->setMinimumSize(360, 320);
    imagePlot_->plotLayout()->insertRow(0);
    imagePlot_->plotLayout()->addElement(0, 0, new QCPTextElement(imagePlot_, "Input relevance", QFont("sans", 11, QFont::Bold)));
    imagePlot_->xAxis->setVisible(false);
    imagePlot_->yAxis->setVisible(false);
    imagePlot_->xAxis->setRange(0, 1);
    imagePlot_->yAxis->setRange(0, 1);
    overlayItem_ = new QCPItemPixmap(imagePlot_);
    overlayItem_->setScaled(true, Qt::KeepAspectRatio, Qt::FastTransformation);
    overlayItem_->topLeft->setCoords(0, 1);
    overlayItem_->bottomRight->setCoords(1, 0);
    imageScale_ = new QCPColorScale(imagePlot_);
    imageScale_->setGradient(bwr());
    imageScale_->axis()->setLabel("relevance");
    imagePlot_->plotLayout()->addElement(1, 1, imageScale_);
    leftLayout->addWidget(imagePlot_, 1);
    auto* overlayControls = new QHBoxLayout;
    overlayControls->addWidget(new QLabel("Heatmap opacity"));
    alphaSlider_ = new QSlider(Qt::Horizontal);
    alphaSlider_->setRange(0, 100);
    alphaSlider_->setValue(70);
    overlayControls->addWidget(alphaSlider_, 1);
    grayBox_ = new QCheckBox("Grey image");
    grayBox_->setChecked(true);
    overlayControls->addWidget(grayBox_);
    leftLayout->addLayout(overlayControls);
    split->addWidget(left);

    neuronPlot_ = new QCustomPlot;
    neuronPlot_->setMinimumSize(420, 320);
    neuronPlot_->plotLayout()->insertRow(0);
    neuronPlot_->plotLayout()->addElement(0, 0, new QCPTextElement(neuronPlot_, "Layer × neuron relevance\n", QFont("sans", 10, QFont::Bold)));
    neuronPlot_->xAxis->setLabel("neuron");
    neuronPlot_->yAxis->setLabel("layer");
    auto layerTicker = QSharedPointer<QCPAxisTickerFixed>::create();
    layerTicker->setTickStep(1.0);
    layerTicker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    neuronPlot_->yAxis->setTicker(layerTicker);
    neuronMap_ = new QCPColorMap(neuronPlot_->xAxis, neuronPlot_->yAxis);
    neuronMap_->setInterpolate(false);
    neuronMap_->setGradient(bwr());
    neuronScale_ = new QCPColorScale(neuronPlot_);
    neuronScale_->setGradient(bwr());
    neuronScale_->axis()->setLabel("relevance (raw, symmetric limits)");
    neuronPlot_->plotLayout()->addElement(1, 1, neuronScale_);
    neuronMap_->setColorScale(neuronScale_);
    split->addWidget(neuronPlot_);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    outer->addWidget(split, 1);
    summaryLabel_ = new QLabel;
    summaryLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    outer->addWidget(summaryLabel_);
    deviationLabel_ = new QLabel;
    deviationLabel_->setWordWrap(true);
    deviationLabel_->setStyleSheet("color: #8a5a00;");
    deviationLabel_->setMinimumHeight(deviationLabel_->fontMetrics().height() * 3);
    outer->addWidget(deviationLabel_);
    tabs_ = new QTabWidget;
    tabs_->addTab(central, "Relevance");
    training_ = new TrainingPanel;
    tabs_->addTab(training_, "Training");
    attention_ = new AttentionPanel;
    tabs_->addTab(attention_, "Attention-IoU");
    explorer_ = new StudyExplorer;
    tabs_->addTab(explorer_, "Study explorer");
    setCentralWidget(tabs_);

    progress_ = new QProgressBar;
    progress_->setRange(0, 100);
    progress_->setMaximumWidth(220);
    statusBar()->addPermanentWidget(progress_);

    connect(computeButton_, &QPushButton::clicked, this, &MainWindow::compute);
    connect(flipButton_, &QPushButton::clicked, this, [this] { openFaithfulness()->start(); });
    connect(cancelButton_, &QPushButton::clicked, this, &MainWindow::cancel);
    connect(alphaSlider_, &QSlider::valueChanged, this, &MainWindow::redrawImage);
    connect(grayBox_, &QCheckBox::toggled, this, &MainWindow::redrawImage);
    connect(siteBox_, &QComboBox::currentIndexChanged, this, &MainWindow::redrawNeuronMap);
    connect(targetBox_, &QComboBox::currentIndexChanged, this, [this] {
        // the result holds every computed target: switching among them needs no recomputation
        redraw();
    });
    resize(1200, 720);
}

FaithfulnessDialog* MainWindow::openFaithfulness() {
    if (!state_->model || state_->imagePath.isEmpty()) return nullptr;
    const int c = targetBox_->currentData().toInt();
    auto* d = new FaithfulnessDialog(state_->model, state_->imagePath, c, targetBox_->currentText(), this);
    d->setAttribute(Qt::WA_DeleteOnClose);
    d->show();
    return d;
}

void MainWindow::setBusy(bool busy) {
    computeButton_->setEnabled(!busy && state_->model && !state_->imagePath.isEmpty());
    flipButton_->setEnabled(state_->model && !state_->imagePath.isEmpty());
    cancelButton_->setEnabled(busy);
    if (!busy) progress_->setValue(0);
}

bool MainWindow::busy() const { return job_->isRunning(); }

void MainWindow::showTab(int index) { tabs_->setCurrentIndex(index); }
int MainWindow::currentTab() const { return tabs_->currentIndex(); }

void MainWindow::saveProject(const QString& path) const {
    ProjectFile p;
    p.tab = tabs_->currentIndex();
    p.explorer = explorer_->saveState();
    const auto a = attention_->request();
    for (const auto& m : a.models) p.attention.models.push_back(QString::fromStdString(m));
    p.attention.dataset = QString::fromStdString(a.dataset);
    p.attention.root = QString::fromStdString(a.root);
    p.attention.map = attention::mapLabel(a.map);
    p.attention.score = a.score == attention::ScoreKind::Mask ? "mask" : "heatmap";
    p.attention.attribute = QString::fromStdString(a.attribute);
    p.attention.confounder = QString::fromStdString(a.confounder);
    p.attention.split = QString::fromStdString(a.split);
    p.attention.size = a.size;
    p.attention.out = QString::fromStdString(a.outDir);
    p.relevance = {state_->modelPath, state_->imagePath, state_->device};
    p.hasSettings = true;
    p.settings = {settings_.device, settings_.cacheDir, settings_.threads};
    writeProjectFile(path, p);
    QSettings settings("BiasScope", "BiasScope");
    QStringList recent = settings.value("recentProjects").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    settings.setValue("recentProjects", recent.mid(0, 10));
}

void MainWindow::openProject(const QString& path) {
    {
        QSettings settings("BiasScope", "BiasScope");
        QStringList recent = settings.value("recentProjects").toStringList();
        recent.removeAll(path);
        recent.prepend(path);
        settings.setValue("recentProjects", recent.mid(0, 10));
    }
    // read and check the whole file first: a bad project changes nothing in the window
    const ProjectFile p = readProjectFile(path);
    if (p.tab >= tabs_->count())
        throw InputError(QString("%1: 'tab' is %2, the window has %3 tabs (0..%4)").arg(path).arg(p.tab).arg(tabs_->count()).arg(tabs_->count() - 1).toStdString());
    attention::AttentionRunOptions o;
    o.dataset = p.attention.dataset.toStdString();
    o.root = p.attention.root.toStdString();
    for (const auto& m : p.attention.models) o.models.push_back(m.toStdString());
    o.map = p.attention.map == "AttnLRP" ? attention::MapKind::AttnLrp : p.attention.map == "CPLRP" ? attention::MapKind::CpLrp : attention::MapKind::GradCam;
    o.score = p.attention.score == "heatmap" ? attention::ScoreKind::Heatmap : attention::ScoreKind::Mask;
    o.attribute = p.attention.attribute.toStdString();
    o.confounder = p.attention.confounder.toStdString();
    o.split = p.attention.split.toStdString();
    o.size = p.attention.size;
    o.outDir = p.attention.out.toStdString();
    attention_->setRequest(o);
    if (p.hasSettings) applySettings({p.settings.device, p.settings.threads, p.settings.cacheDir});
    if (!p.relevance.device.isEmpty()) setDevice(p.relevance.device);
    if (!p.relevance.image.isEmpty()) openImage(p.relevance.image);
    if (!p.relevance.model.isEmpty()) openModel(p.relevance.model);
    if (!p.explorer.store.isEmpty()) explorer_->restoreState(p.explorer);
    tabs_->setCurrentIndex(p.tab);
}

void MainWindow::showError(const QString& message) {
    statusBar()->showMessage(message);
    summaryLabel_->setText("<span style='color:#b00020'>" + message.toHtmlEscaped() + "</span>");
    emit failed(message);
}

void MainWindow::openModel(const QString& path) {
    statusBar()->showMessage("Loading " + path + " …");
    computeButton_->setEnabled(false);
    job_->loadModel(path, state_->device);
}

void MainWindow::setDevice(const QString& device) {
    state_->device = device;
    settings_.device = device;
}

void MainWindow::applySettings(const Settings& s) {
    settings_ = s;
    setDevice(s.device.isEmpty() ? QString("auto") : s.device);
    configureCpuThreads(s.threads);
    QSettings q("BiasScope", "BiasScope");
    q.setValue("settings/device", settings_.device);
    q.setValue("settings/threads", settings_.threads);
    q.setValue("settings/cacheDir", settings_.cacheDir);
}

MainWindow::Settings MainWindow::settings() const {
    Settings s = settings_;
    if (s.cacheDir.isEmpty()) s.cacheDir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation);
    return s;
}

void MainWindow::onModelLoaded(const std::shared_ptr<const ModelOutcome>& outcome) {
    if (!outcome->error.isEmpty()) {
        showError(outcome->error);  // the previous model, if any, stays loaded
        setBusy(false);
        return;
    }
    state_->model = outcome->model;
    state_->modelPath = outcome->path;
    state_->outcome.reset();
    const auto& c = state_->model->backbone.config;
    modelLabel_->setText(QString("Model: %1 (ViT %2 layers, hidden %3, %4 px) on %6%5")
                             .arg(QFileInfo(outcome->path).fileName())
                             .arg(c.numLayers)
                             .arg(c.hiddenSize)
                             .arg(c.imageSize)
                             .arg(state_->model->configInferred ? " — config inferred from tensor shapes" : "")
                             .arg(QString::fromStdString(state_->model->backbone.clsToken.device().str())));
    targetBox_->blockSignals(true);
    targetBox_->clear();
    const auto& head = state_->model->heads.front();
    for (std::size_t i = 0; i < head.labels.size(); ++i)
        targetBox_->addItem(QString("%1: %2").arg(i).arg(QString::fromStdString(head.labels[i])), static_cast<int>(i));
    targetBox_->blockSignals(false);
    statusBar()->showMessage("Model loaded");
    setBusy(false);
    redraw();
    emit modelReady();
}

bool MainWindow::openImage(const QString& path) {
    QImage img(path);
    if (img.isNull()) {
        showError(path + ": cannot decode image");
        return false;
    }
    state_->image = img.convertToFormat(QImage::Format_RGB32);
    state_->imagePath = path;
    state_->outcome.reset();
    imageLabel_->setText("Image: " + QFileInfo(path).fileName() + QString(" (%1×%2)").arg(img.width()).arg(img.height()));
    setBusy(busy());
    redraw();
    return true;
}

void MainWindow::selectTarget(int classIndex) {
    const int i = targetBox_->findData(classIndex);
    if (i >= 0) targetBox_->setCurrentIndex(i);
}

void MainWindow::selectSite(const QString& site) {
    const int i = siteBox_->findData(site);
    if (i >= 0) siteBox_->setCurrentIndex(i);
}

int MainWindow::targetCount() const { return targetBox_->count(); }
double MainWindow::neuronMapAbsMax() const { return state_->neuronAbsMax; }
double MainWindow::heatmapLimit() const { return state_->heatLimit; }
QString MainWindow::statusText() const { return summaryLabel_->text(); }

void MainWindow::compute() {
    if (!state_->model || state_->imagePath.isEmpty() || busy()) return;
    RelevanceRequest req;
    req.model = state_->model;
    req.imagePath = state_->imagePath;
    // every class of the head in one batched pass, so switching targets afterwards is instant
    const int classes = static_cast<int>(state_->model->heads.front().labels.size());
    for (int c = 0; c < std::min(classes, 64); ++c) req.targets.push_back({0, c});
    const int chosen = targetBox_->currentData().toInt();
    if (chosen >= 64) req.targets.push_back({0, chosen});
    req.options.rule = explain::parseAttentionRule(ruleBox_->currentData().toString().toStdString());
    req.options.readout = explain::parseReadout(readoutBox_->currentData().toString().toStdString());
    req.options.sites = {explain::Site::Intermediate, explain::Site::Final, explain::Site::LnBefore, explain::Site::LnAfter, explain::Site::Attention};
    setBusy(true);
    cancelButton_->setEnabled(true);
    computeButton_->setEnabled(false);
    statusBar()->showMessage("Computing relevance …");
    job_->start(std::move(req));
}

void MainWindow::cancel() { job_->cancel(); }

void MainWindow::onFinished(const std::shared_ptr<const RelevanceOutcome>& outcome) {
    setBusy(false);
    if (outcome->cancelled) {
        statusBar()->showMessage("Cancelled; previous results kept");
        return;
    }
    if (!outcome->error.isEmpty()) {
        showError(outcome->error);
        return;
    }
    state_->outcome = outcome;
    statusBar()->showMessage(QString("Relevance computed for %1 targets in %2 s").arg(outcome->result.targets.size()).arg(outcome->seconds, 0, 'f', 2));
    QStringList dev;
    for (const auto& d : explain::deviationsFromPublished(outcome->request.options)) dev << QString::fromStdString(d);
    deviationLabel_->setText("Differences from the published method: " + dev.join("; ") + ".");
    redraw();
    emit relevanceReady();
}

int MainWindow::currentTargetRow() const {
    const auto& out = state_->outcome;
    if (!out) return -1;
    const int cls = targetBox_->currentData().toInt();
    for (std::size_t i = 0; i < out->result.targets.size(); ++i)
        if (out->result.targets[i].classIndex == cls) return static_cast<int>(i);
    return -1;
}

void MainWindow::redraw() {
    redrawImage();
    redrawNeuronMap();
}

void MainWindow::redrawImage() {
    const auto& out = state_->outcome;
    if (state_->image.isNull()) {
        overlayItem_->setPixmap(QPixmap());
        imagePlot_->replot();
        return;
    }
    const int t = currentTargetRow();
    if (t < 0) {
        overlayItem_->setPixmap(QPixmap::fromImage(state_->image));
        state_->heatLimit = 0;
        imagePlot_->replot();
        return;
    }
    const at::Tensor heat = out->result.inputHeatmap[t].to(torch::kCPU).to(torch::kFloat32).contiguous();
    const double limit = heat.abs().max().item<double>();
    state_->heatLimit = limit;
    const QImage ov = overlayHeatmap(state_->image, heat.data_ptr<float>(), static_cast<int>(heat.size(1)), static_cast<int>(heat.size(0)), limit,
                                     alphaSlider_->value() / 100.0, grayBox_->isChecked());
    overlayItem_->setPixmap(QPixmap::fromImage(ov));
    imageScale_->setDataRange(QCPRange(-std::max(limit, 1e-12), std::max(limit, 1e-12)));
    const double logit = out->result.targetLogit[t].item<double>();
    const at::Tensor probs = torch::softmax(out->result.logits[0].to(torch::kFloat64), 0);
    const int cls = out->result.targets[static_cast<std::size_t>(t)].classIndex;
    QString acc;
    if (out->result.pixelRelevance.defined())
        acc = QString("   Σ pixels %1 · CLS %2 · position %3 · biases %4")
                  .arg(out->result.pixelRelevance[t].item<double>(), 0, 'g', 4)
                  .arg(out->result.clsRelevance[t].item<double>(), 0, 'g', 4)
                  .arg(out->result.positionRelevance[t].item<double>(), 0, 'g', 4)
                  .arg(out->result.biasRelevance[t].item<double>(), 0, 'g', 4);
    summaryLabel_->setText(QString("Target %1 (%2): logit %3, p = %4.%5")
                               .arg(cls)
                               .arg(QString::fromStdString(state_->model->heads.front().labels[static_cast<std::size_t>(cls)]))
                               .arg(logit, 0, 'g', 5)
                               .arg(probs[cls].item<double>(), 0, 'f', 4)
                               .arg(acc));
    imagePlot_->replot();
}

void MainWindow::redrawNeuronMap() {
    const auto& out = state_->outcome;
    const int t = currentTargetRow();
    const auto site = explain::parseSite(siteBox_->currentData().toString().toStdString());
    const explain::SiteRelevance* s = out ? out->result.site(site) : nullptr;
    if (!s || t < 0) {
        neuronMap_->data()->clear();
        state_->neuronAbsMax = 0;
        neuronPlot_->replot();
        return;
    }
    const at::Tensor m = s->perNeuron[t].to(torch::kCPU).to(torch::kFloat32).contiguous();  // [layers, features]
    const int layers = static_cast<int>(m.size(0)), features = static_cast<int>(m.size(1));
    neuronMap_->data()->setSize(features, layers);
    neuronMap_->data()->setRange(QCPRange(0, features - 1), QCPRange(0, layers - 1));
    const float* p = m.data_ptr<float>();
    for (int l = 0; l < layers; ++l)
        for (int f = 0; f < features; ++f) neuronMap_->data()->setCell(f, l, p[l * features + f]);
    const double lim = std::max(1e-12, m.abs().max().item<double>());
    state_->neuronAbsMax = lim;
    neuronMap_->setDataRange(QCPRange(-lim, lim));
    neuronPlot_->xAxis->setRange(-0.5, features - 0.5);
    neuronPlot_->yAxis->setRange(-0.5, layers - 0.5);
    static_cast<QCPTextElement*>(neuronPlot_->plotLayout()->element(0, 0))
        ->setText(QString("Layer × neuron relevance\n%1").arg(QString::fromStdString(explain::siteDescription(site))));
    neuronPlot_->replot();
}

}  // namespace biasscope::ui
