#include "TrainingPanel.h"

#include <cmath>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>
#include <QtConcurrent>
#include <qcustomplot.h>

#include "common/Device.h"
#include "data/Datasets.h"
#include "model/RandomVit.h"

namespace biasscope::ui {

namespace {

QCustomPlot* makePlot(const QString& yLabel) {
    auto* p = new QCustomPlot;
    p->setMinimumSize(320, 220);
    p->xAxis->setLabel("epoch");
    p->yAxis->setLabel(yLabel);
    for (const auto& [name, colour, dashed] : std::vector<std::tuple<QString, QColor, bool>>{{"train", QColor(0x1f, 0x77, 0xb4), false}, {"validation", QColor(0xd6, 0x27, 0x28), true}}) {
        QCPGraph* g = p->addGraph();
        g->setName(name);
        QPen pen(colour, 1.8);
        if (dashed) pen.setStyle(Qt::DashLine);
        g->setPen(pen);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, colour, colour, 5));
    }
    p->legend->setVisible(true);
    p->legend->setFont(QFont("sans", 8));
    auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
    ticker->setTickStep(1);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    p->xAxis->setTicker(ticker);
    return p;
}

std::shared_ptr<const TrainOutcome> runTraining(const TrainRequest& req, std::shared_ptr<std::atomic<bool>> cancel, QObject* panel) {
    auto out = std::make_shared<TrainOutcome>();
    try {
        data::DatasetSplits d;
        const std::string root = req.root.toStdString();
        if (req.dataKind == "celeba") d = data::loadCelebA(root, req.attribute.toStdString(), req.options.seed);
        else if (req.dataKind == "csv") d = data::loadCsvDataset(root, req.options.seed);
        else d = data::loadImageFolder(root, req.options.seed);
        model::VitModel init;
        if (!req.init.isEmpty())
            init = model::loadVitModel(req.init.toStdString(), req.config.isEmpty() ? std::nullopt : std::optional<std::string>(req.config.toStdString()));
        else if (!req.config.isEmpty())
            init = model::makeRandomVitModel(model::VitConfig::fromJsonFile(req.config.toStdString()), {req.options.seed});
        else
            throw InputError("choose an initial model (pretrained ViT) or a config to train from scratch");
        train::TrainOptions o = req.options;
        o.outDir = req.outDir.toStdString();
        o.device = resolveDevice(req.device.toStdString());
        JobControl job;
        job.cancel = cancel.get();
        job.progress = [panel](double f, const std::string& stage) {
            QMetaObject::invokeMethod(panel, "setProgressText", Qt::QueuedConnection, Q_ARG(double, f), Q_ARG(QString, QString::fromStdString(stage)));
        };
        train::TrainCallbacks cb;
        cb.onEpoch = [panel](const train::EpochMetrics& m) {
            QMetaObject::invokeMethod(panel, "addEpoch", Qt::QueuedConnection, Q_ARG(int, m.epoch), Q_ARG(double, m.trainLoss), Q_ARG(double, m.valLoss),
                                      Q_ARG(double, m.trainAcc), Q_ARG(double, m.valAcc));
        };
        cb.onResume = [panel](const std::vector<train::EpochMetrics>& history) {
            for (const auto& m : history)
                QMetaObject::invokeMethod(panel, "addEpoch", Qt::QueuedConnection, Q_ARG(int, m.epoch), Q_ARG(double, m.trainLoss), Q_ARG(double, m.valLoss),
                                          Q_ARG(double, m.trainAcc), Q_ARG(double, m.valAcc));
        };
        out->result = train::trainClassifier(init, d, o, job, cb);
    } catch (const Cancelled&) {
        out->cancelled = true;
    } catch (const std::exception& e) {
        out->error = QString::fromStdString(e.what());
    }
    return out;
}

}  // namespace

TrainingPanel::TrainingPanel(QWidget* parent) : QWidget(parent), cancel_(std::make_shared<std::atomic<bool>>(false)) {
    auto* form = new QFormLayout;
    dataBox_ = new QComboBox;
    dataBox_->addItems({"folder", "celeba", "csv"});
    form->addRow("Data", dataBox_);
    auto pathRow = [&](QLineEdit*& edit, const QString& label, bool dir) {
        edit = new QLineEdit;
        auto* browse = new QPushButton("…");
        browse->setMaximumWidth(32);
        connect(browse, &QPushButton::clicked, this, [this, edit, dir] {
            const QString p = dir ? QFileDialog::getExistingDirectory(this, "Choose a folder", edit->text()) : QFileDialog::getOpenFileName(this, "Choose a file", edit->text());
            if (!p.isEmpty()) edit->setText(p);
        });
        auto* row = new QHBoxLayout;
        row->addWidget(edit);
        row->addWidget(browse);
        form->addRow(label, row);
    };
    pathRow(rootEdit_, "Root / CSV", true);
    attributeEdit_ = new QLineEdit("Male");
    form->addRow("CelebA attribute", attributeEdit_);
    modeBox_ = new QComboBox;
    modeBox_->addItem("head (published: frozen backbone)", "head");
    modeBox_->addItem("probe (cached features, fastest)", "probe");
    modeBox_->addItem("full (all weights)", "full");
    form->addRow("Mode", modeBox_);
    pathRow(initEdit_, "Initial model", false);
    pathRow(configEdit_, "Config (optional)", false);
    pathRow(outEdit_, "Output folder", true);
    deviceEdit_ = new QLineEdit("auto");
    form->addRow("Device", deviceEdit_);
    epochsBox_ = new QSpinBox;
    epochsBox_->setRange(1, 1000);
    epochsBox_->setValue(50);
    batchBox_ = new QSpinBox;
    batchBox_->setRange(1, 4096);
    batchBox_->setValue(128);
    patienceBox_ = new QSpinBox;
    patienceBox_->setRange(1, 1000);
    patienceBox_->setValue(5);
    seedBox_ = new QSpinBox;
    seedBox_->setRange(0, 1 << 30);
    seedBox_->setValue(42);
    lrBox_ = new QDoubleSpinBox;
    lrBox_->setDecimals(6);
    lrBox_->setRange(1e-6, 1.0);
    lrBox_->setSingleStep(1e-4);
    lrBox_->setValue(3e-4);
    auto* recipe = new QHBoxLayout;
    for (auto [label, w] : std::vector<std::pair<QString, QWidget*>>{{"epochs", epochsBox_}, {"batch", batchBox_}, {"lr", lrBox_}, {"patience", patienceBox_}, {"seed", seedBox_}}) {
        recipe->addWidget(new QLabel(label));
        recipe->addWidget(w);
    }
    form->addRow("Recipe", recipe);

    startButton_ = new QPushButton("Start / resume");
    cancelButton_ = new QPushButton("Cancel");
    cancelButton_->setEnabled(false);
    connect(startButton_, &QPushButton::clicked, this, &TrainingPanel::start);
    connect(cancelButton_, &QPushButton::clicked, this, &TrainingPanel::cancel);
    progress_ = new QProgressBar;
    progress_->setRange(0, 1000);
    status_ = new QLabel("Idle. AdamW, cross-entropy, early stopping on validation accuracy; checkpoints in <output>/best (HF) and <output>/last (resume).");
    status_->setWordWrap(true);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(startButton_);
    buttons->addWidget(cancelButton_);
    buttons->addWidget(progress_, 1);

    lossPlot_ = makePlot("cross-entropy loss");
    accPlot_ = makePlot("accuracy");
    accPlot_->yAxis->setRange(0, 1.02);
    accPlot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    auto* plots = new QHBoxLayout;
    plots->addWidget(lossPlot_);
    plots->addWidget(accPlot_);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addLayout(buttons);
    layout->addWidget(status_);
    layout->addLayout(plots, 1);
    connect(&watcher_, &QFutureWatcherBase::finished, this, &TrainingPanel::onFinished);
}

TrainingPanel::~TrainingPanel() {
    cancel_->store(true);
    watcher_.waitForFinished();
}

void TrainingPanel::setRequest(const TrainRequest& r) {
    dataBox_->setCurrentText(r.dataKind);
    rootEdit_->setText(r.root);
    attributeEdit_->setText(r.attribute);
    modeBox_->setCurrentIndex(modeBox_->findData(train::toString(r.options.mode)));
    initEdit_->setText(r.init);
    configEdit_->setText(r.config);
    outEdit_->setText(r.outDir);
    deviceEdit_->setText(r.device);
    epochsBox_->setValue(r.options.epochs);
    batchBox_->setValue(r.options.batchSize);
    lrBox_->setValue(r.options.lr);
    patienceBox_->setValue(r.options.patience);
    seedBox_->setValue(static_cast<int>(r.options.seed));
}

TrainRequest TrainingPanel::request() const {
    TrainRequest r;
    r.dataKind = dataBox_->currentText();
    r.root = rootEdit_->text();
    r.attribute = attributeEdit_->text();
    r.init = initEdit_->text();
    r.config = configEdit_->text();
    r.outDir = outEdit_->text();
    r.device = deviceEdit_->text();
    r.options.mode = train::parseTrainMode(modeBox_->currentData().toString().toStdString());
    r.options.epochs = epochsBox_->value();
    r.options.batchSize = batchBox_->value();
    r.options.lr = lrBox_->value();
    r.options.patience = patienceBox_->value();
    r.options.seed = static_cast<std::uint64_t>(seedBox_->value());
    return r;
}

bool TrainingPanel::busy() const { return watcher_.isRunning(); }

bool TrainingPanel::showRun(const QString& runDir) {
    QFile f(runDir + "/metrics.csv");
    if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) {
        status_->setText("No metrics.csv in " + runDir);
        return false;
    }
    for (auto* p : {lossPlot_, accPlot_})
        for (int g = 0; g < p->graphCount(); ++g) p->graph(g)->data()->clear();
    int rows = 0;
    for (const QByteArray& raw : f.readAll().split('\n')) {
        const QList<QByteArray> c = raw.trimmed().split(',');
        bool ok = false;
        const int epoch = c.value(0).toInt(&ok);
        if (!ok || c.size() < 5) continue;  // header or malformed line
        addEpoch(epoch, c[1].toDouble(), c[3].toDouble(), c[2].toDouble(), c[4].toDouble());
        ++rows;
    }
    outEdit_->setText(runDir);
    status_->setText(QString("Showing %1 epochs of %2").arg(rows).arg(runDir));
    return rows > 0;
}
int TrainingPanel::plottedEpochs() const { return lossPlot_->graph(0)->dataCount(); }
QString TrainingPanel::statusText() const { return status_->text(); }

void TrainingPanel::setBusy(bool b) {
    startButton_->setEnabled(!b);
    cancelButton_->setEnabled(b);
}

void TrainingPanel::start() {
    if (busy()) return;
    const TrainRequest req = request();
    if (req.outDir.isEmpty() || req.root.isEmpty()) {
        status_->setText("Choose the data root and an output folder first.");
        emit finished(false);
        return;
    }
    for (auto* p : {lossPlot_, accPlot_})
        for (int g = 0; g < p->graphCount(); ++g) p->graph(g)->data()->clear();
    epochs_ = req.options.epochs;
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    setBusy(true);
    progress_->setValue(0);
    status_->setText("Starting (reading the data set)…");
    watcher_.setFuture(QtConcurrent::run([req, c = cancel_, self = this] { return runTraining(req, c, self); }));
}

void TrainingPanel::cancel() {
    if (!busy()) return;
    cancel_->store(true);
    status_->setText("Cancelling after the current step…");
}

void TrainingPanel::setProgressText(double fraction, const QString& stage) {
    progress_->setValue(static_cast<int>(fraction * 1000));
    status_->setText(stage);
}

void TrainingPanel::addEpoch(int epoch, double trainLoss, double valLoss, double trainAcc, double valAcc) {
    lossPlot_->graph(0)->addData(epoch, trainLoss);
    lossPlot_->graph(1)->addData(epoch, valLoss);
    accPlot_->graph(0)->addData(epoch, trainAcc);
    accPlot_->graph(1)->addData(epoch, valAcc);
    for (auto* p : {lossPlot_, accPlot_}) {
        p->xAxis->setRange(0.5, std::max(epoch, 2) + 0.5);
        if (p == lossPlot_) {
            bool found = false;
            QCPRange r = p->graph(0)->getValueRange(found);
            r.expand(p->graph(1)->getValueRange(found));
            p->yAxis->setRange(0, r.upper * 1.1 + 1e-6);
        }
        p->replot();
    }
    emit epochDone(epoch);
}

void TrainingPanel::onFinished() {
    setBusy(false);
    const auto out = watcher_.result();
    if (out->cancelled) {
        status_->setText("Cancelled. The checkpoint of the last finished epoch is kept in <output>/last; Start resumes from it.");
        emit finished(false);
    } else if (!out->error.isEmpty()) {
        status_->setText("Error: " + out->error);
        emit finished(false);
    } else {
        const auto& r = out->result;
        progress_->setValue(1000);
        status_->setText(QString("Done: best epoch %1, validation accuracy %2, test accuracy %3%4. Checkpoint: %5")
                             .arg(r.bestEpoch)
                             .arg(r.bestValAcc, 0, 'f', 4)
                             .arg(std::isnan(r.testAcc) ? QString("n/a (no test images)") : QString::number(r.testAcc, 'f', 4))
                             .arg(r.stoppedEarly ? " (early stop)" : "")
                             .arg(QString::fromStdString(r.bestDir)));
        emit finished(true);
    }
}

}  // namespace biasscope::ui
