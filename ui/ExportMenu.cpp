#include "ExportMenu.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSaveFile>
#include <QSettings>
#include <QSpinBox>
#include <QTextStream>
#include <qcustomplot.h>

#include <torch/types.h>

#include "common/Error.h"
#include "figures/FigureExport.h"
#include "io/Safetensors.h"

namespace biasscope::ui {

bool askFigureExport(QWidget* parent, const QString& suggestedName, QString& path, FigureExportOptions& o) {
    QSettings settings("BiasScope", "BiasScope");
    QDialog d(parent);
    d.setWindowTitle("Export figure");
    auto* form = new QFormLayout(&d);
    auto* file = new QLineEdit(settings.value("export/dir", QDir::homePath()).toString() + "/" + suggestedName + "." + settings.value("export/ext", "pdf").toString());
    auto* browse = new QPushButton("…");
    auto* fileRow = new QHBoxLayout;
    fileRow->addWidget(file, 1);
    fileRow->addWidget(browse);
    QObject::connect(browse, &QPushButton::clicked, &d, [&] {
        const QString p = QFileDialog::getSaveFileName(&d, "Export figure", file->text(), "PDF (*.pdf);;SVG (*.svg);;PNG (*.png);;TIFF (*.tif)");
        if (!p.isEmpty()) file->setText(p);
    });
    auto* size = new QComboBox;
    for (const auto& p : figureSizePresets()) size->addItem(p.name);
    size->addItem("custom");
    auto* w = new QDoubleSpinBox;
    auto* h = new QDoubleSpinBox;
    for (auto* b : {w, h}) {
        b->setRange(1, 40);
        b->setSuffix(" in");
        b->setDecimals(2);
    }
    w->setValue(settings.value("export/w", 3.5).toDouble());
    h->setValue(settings.value("export/h", 2.6).toDouble());
    size->setCurrentIndex(settings.value("export/size", 0).toInt());
    auto applyPreset = [=] {
        const int i = size->currentIndex();
        const bool custom = i >= static_cast<int>(figureSizePresets().size());
        w->setEnabled(custom);
        h->setEnabled(custom);
        if (!custom) w->setValue(figureSizePresets()[static_cast<std::size_t>(i)].widthInches), h->setValue(figureSizePresets()[static_cast<std::size_t>(i)].heightInches);
    };
    QObject::connect(size, qOverload<int>(&QComboBox::currentIndexChanged), &d, applyPreset);
    applyPreset();
    auto* dims = new QHBoxLayout;
    dims->addWidget(w);
    dims->addWidget(h);
    auto* dpi = new QSpinBox;
    dpi->setRange(72, 2400);
    dpi->setValue(settings.value("export/dpi", 300).toInt());
    auto* text = new QComboBox;
    for (const auto& p : figureTextPresets()) text->addItem(p.name);
    text->setCurrentIndex(settings.value("export/text", 0).toInt());
    auto* transparent = new QCheckBox("transparent background");
    transparent->setChecked(settings.value("export/transparent", false).toBool());
    form->addRow("File (.pdf .svg .png .tif)", fileRow);
    form->addRow("Size", size);
    form->addRow("Width × height", dims);
    form->addRow("DPI (PNG, TIFF)", dpi);
    form->addRow("Text", text);
    form->addRow(transparent);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel);
    QObject::connect(buttons, &QDialogButtonBox::accepted, &d, &QDialog::accept);
    QObject::connect(buttons, &QDialogButtonBox::rejected, &d, &QDialog::reject);
    form->addRow(buttons);
    if (d.exec() != QDialog::Accepted) return false;
    path = file->text();
    o.widthInches = w->value();
    o.heightInches = h->value();
    o.dpi = dpi->value();
    o.textScale = figureTextPresets()[static_cast<std::size_t>(text->currentIndex())].scale;
    o.transparent = transparent->isChecked();
    settings.setValue("export/dir", QFileInfo(path).absolutePath());
    settings.setValue("export/ext", QFileInfo(path).suffix());
    settings.setValue("export/size", size->currentIndex());
    settings.setValue("export/w", o.widthInches);
    settings.setValue("export/h", o.heightInches);
    settings.setValue("export/dpi", o.dpi);
    settings.setValue("export/text", text->currentIndex());
    settings.setValue("export/transparent", o.transparent);
    return true;
}

namespace {

void writeText(const QString& path, const QString& text) {
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) throw Error(path.toStdString() + ": cannot write");
    QTextStream(&f) << text;
    if (!f.commit()) throw Error(path.toStdString() + ": cannot write");
}

QString name(const QCPAbstractPlottable* p, int i) { return p->name().isEmpty() ? QString("series%1").arg(i) : p->name(); }

}  // namespace

void exportPlotData(QCustomPlot& plot, const QString& path, const QJsonObject& provenance) {
    const QString ext = QFileInfo(path).suffix().toLower();
    if (ext != "csv" && ext != "safetensors") throw InputError(path.toStdString() + ": data export writes .csv or .safetensors");
    std::vector<QCPColorMap*> maps;
    QString series = "series,x,y\n";
    int seriesCount = 0;
    for (int i = 0; i < plot.plottableCount(); ++i) {
        QCPAbstractPlottable* p = plot.plottable(i);
        if (auto* m = qobject_cast<QCPColorMap*>(p)) maps.push_back(m);
        else if (auto* g = qobject_cast<QCPGraph*>(p)) {
            ++seriesCount;
            for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
                series += QString("%1,%2,%3\n").arg(name(p, i)).arg(it->key, 0, 'g', 10).arg(it->value, 0, 'g', 10);
        } else if (auto* b = qobject_cast<QCPBars*>(p)) {
            ++seriesCount;
            for (auto it = b->data()->constBegin(); it != b->data()->constEnd(); ++it)
                series += QString("%1,%2,%3\n").arg(name(p, i)).arg(it->key, 0, 'g', 10).arg(it->value, 0, 'g', 10);
        }
    }
    if (maps.empty() && seriesCount == 0) throw InputError(path.toStdString() + ": the plot shows no data");
    QJsonObject side = provenance;
    side["data"] = QFileInfo(path).fileName();
    if (!maps.empty()) {
        QCPColorMapData* d = maps.front()->data();  // cell() is not const in QCustomPlot 2.1
        const int nx = d->keySize(), ny = d->valueSize();
        side["rows"] = ny;
        side["columns"] = nx;
        side["layout"] = "row r = value index r (bottom to top of the plot), column c = key index c";
        side["key_range"] = QJsonArray{d->keyRange().lower, d->keyRange().upper};
        side["value_range"] = QJsonArray{d->valueRange().lower, d->valueRange().upper};
        if (ext == "csv") {
            QString csv;
            for (int y = 0; y < ny; ++y) {
                QStringList row;
                for (int x = 0; x < nx; ++x) row << QString::number(d->cell(x, y), 'g', 9);
                csv += row.join(',') + "\n";
            }
            writeText(path, csv);
        } else {
            at::Tensor t = torch::empty({ny, nx}, torch::kFloat32);
            auto a = t.accessor<float, 2>();
            for (int y = 0; y < ny; ++y)
                for (int x = 0; x < nx; ++x) a[y][x] = static_cast<float>(d->cell(x, y));
            io::writeSafetensors(path.toStdString(), {{"values", t}}, {{"format", "biasscope.plot-data.v1"}});
        }
    } else {
        if (ext != "csv") throw InputError(path.toStdString() + ": curves and bars export as .csv");
        writeText(path, series);
        side["layout"] = "long form: series, x, y";
    }
    QSaveFile f(path + ".json");
    if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(side).toJson()) < 0 || !f.commit()) throw Error(path.toStdString() + ".json: cannot write");
}

void installExportMenu(QCustomPlot* plot, const QString& name, std::function<QJsonObject()> provenance) {
    plot->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(plot, &QWidget::customContextMenuRequested, plot, [plot, name, provenance](const QPoint& pos) {
        QMenu menu(plot);
        menu.addAction("Export figure…", plot, [plot, name, provenance] {
            QString path;
            FigureExportOptions o;
            if (!askFigureExport(plot, name, path, o)) return;
            try {
                exportFigure(*plot, path, o, provenance ? provenance() : QJsonObject{});
            } catch (const std::exception& e) {
                QMessageBox::warning(plot, "Export figure", e.what());
            }
        });
        menu.addAction("Export data…", plot, [plot, name, provenance] {
            const QString path = QFileDialog::getSaveFileName(plot, "Export the data behind the plot", name + ".csv", "CSV (*.csv);;safetensors (*.safetensors)");
            if (path.isEmpty()) return;
            try {
                exportPlotData(*plot, path, provenance ? provenance() : QJsonObject{});
            } catch (const std::exception& e) {
                QMessageBox::warning(plot, "Export data", e.what());
            }
        });
        menu.exec(plot->mapToGlobal(pos));
    });
}

}  // namespace biasscope::ui
