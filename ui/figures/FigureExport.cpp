#include "figures/FigureExport.h"

#include <QFileInfo>
#include <QJsonDocument>
#include <QSaveFile>
#include <QPdfWriter>
#include <QSvgGenerator>
#include <qcustomplot.h>

#include "common/Error.h"

namespace biasscope::ui {

namespace {
constexpr double kLogicalDpi = 96.0;  // layout is done at screen resolution, then scaled to the requested DPI
}

void exportFigure(QCustomPlot& plot, const QString& path, const FigureExportOptions& o, const QJsonObject& provenance) {
    const int w = static_cast<int>(o.widthInches * kLogicalDpi + 0.5), h = static_cast<int>(o.heightInches * kLogicalDpi + 0.5);
    const QString ext = QFileInfo(path).suffix().toLower();
    const QBrush oldBackground = plot.background();
    if (o.transparent) plot.setBackground(Qt::transparent);
    bool ok = false;
    const QString tmp = path + ".tmp";
    if (ext == "png") {
        ok = plot.savePng(tmp, w, h, o.dpi / kLogicalDpi, -1, o.dpi, QCP::ruDotsPerInch);
    } else if (ext == "tif" || ext == "tiff") {
        ok = plot.saveRastered(tmp, w, h, o.dpi / kLogicalDpi, "TIFF", -1, o.dpi, QCP::ruDotsPerInch);
    } else if (ext == "pdf") {
        // physical page of the requested size, painted at the logical 96 DPI so text keeps its layout
        QPdfWriter pdf(tmp);
        pdf.setPageSize(QPageSize(QSizeF(o.widthInches, o.heightInches), QPageSize::Inch));
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        pdf.setResolution(static_cast<int>(kLogicalDpi));
        pdf.setCreator("BiasScope");
        pdf.setTitle(QFileInfo(path).completeBaseName());
        QCPPainter painter;
        ok = painter.begin(&pdf);
        if (ok) {
            painter.setMode(QCPPainter::pmVectorized);
            painter.setMode(QCPPainter::pmNoCaching);
            painter.setMode(QCPPainter::pmNonCosmetic);
            plot.toPainter(&painter, w, h);
            painter.end();
        }
    } else if (ext == "svg") {
        QSvgGenerator gen;
        gen.setFileName(tmp);
        gen.setSize(QSize(w, h));
        gen.setViewBox(QRect(0, 0, w, h));
        gen.setResolution(static_cast<int>(kLogicalDpi));
        gen.setTitle(QFileInfo(path).completeBaseName());
        QCPPainter painter;
        ok = painter.begin(&gen);
        if (ok) {
            plot.toPainter(&painter, w, h);
            painter.end();
        }
    } else {
        plot.setBackground(oldBackground);
        throw InputError(path.toStdString() + ": unsupported figure format (use .png, .tif, .pdf or .svg)");
    }
    plot.setBackground(oldBackground);
    if (!ok || !QFile::exists(tmp)) {
        QFile::remove(tmp);
        throw Error(path.toStdString() + ": could not write the figure");
    }
    QFile::remove(path);
    if (!QFile::rename(tmp, path)) throw Error(path.toStdString() + ": could not move the finished figure into place");

    QJsonObject side = provenance;
    side["figure"] = QFileInfo(path).fileName();
    side["width_in"] = o.widthInches;
    side["height_in"] = o.heightInches;
    side["dpi"] = o.dpi;
    side["transparent"] = o.transparent;
    side["software"] = QString("BiasScope ") + BIASSCOPE_VERSION;
    QSaveFile f(path + ".json");
    if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(side).toJson()) < 0 || !f.commit())
        throw Error(path.toStdString() + ".json: could not write the sidecar");
}

}  // namespace biasscope::ui
