#include "figures/FigureExport.h"

#include <algorithm>
#include <filesystem>

#include <QFileInfo>
#include <QJsonDocument>
#include <QSaveFile>
#include <QPdfWriter>
#include <QSvgGenerator>
#include <qcustomplot.h>

#include "common/Error.h"
#include "io/AtomicFile.h"

namespace biasscope::ui {

namespace {
constexpr double kLogicalDpi = 96.0;  // layout is done at screen resolution, then scaled to the requested DPI

// Qt's PDF and SVG writers do not report failed writes (a full disk leaves a short file): a finished figure
// must end as its format ends (PDF %%EOF, SVG </svg>, PNG IEND chunk; TIFF: not empty).
bool completeFile(const QString& file, const QString& ext) {
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly) || f.size() == 0) return false;
    const qint64 n = std::min<qint64>(f.size(), 64);
    f.seek(f.size() - n);
    const QByteArray tail = f.read(n).trimmed();
    if (ext == "pdf") return tail.endsWith("%%EOF");
    if (ext == "svg") return tail.endsWith("</svg>");
    if (ext == "png") return tail.size() >= 8 && tail.right(8).startsWith("IEND");
    return true;
}
}

const std::vector<FigurePreset>& figureSizePresets() {
    static const std::vector<FigurePreset> p{{"one column (3.5 x 2.6 in)", 3.5, 2.6},
                                             {"1.5 columns (5.0 x 3.4 in)", 5.0, 3.4},
                                             {"two columns (7.0 x 4.2 in)", 7.0, 4.2},
                                             {"slide (10 x 5.6 in)", 10.0, 5.6}};
    return p;
}

const std::vector<TextPreset>& figureTextPresets() {
    static const std::vector<TextPreset> p{{"paper", 1.0}, {"compact", 0.8}, {"slide", 1.4}};
    return p;
}

void exportFigure(QCustomPlot& plot, const QString& path, const FigureExportOptions& o, const QJsonObject& provenance) {
    if (!(o.textScale > 0.2 && o.textScale < 5)) throw InputError(path.toStdString() + ": text scale must be between 0.2 and 5");
    // laid out at (size / textScale) logical pixels and drawn textScale times larger: text and lines grow relative to the page
    const double s = o.textScale;
    const int w = static_cast<int>(o.widthInches * kLogicalDpi / s + 0.5), h = static_cast<int>(o.heightInches * kLogicalDpi / s + 0.5);
    const QString ext = QFileInfo(path).suffix().toLower();
    const QBrush oldBackground = plot.background();
    if (o.transparent) plot.setBackground(Qt::transparent);
    bool ok = false;
    const QString tmp = QString::fromStdString(io::temporaryPathFor(path.toStdString()));
    if (ext == "png") {
        ok = plot.savePng(tmp, w, h, o.dpi / kLogicalDpi * s, -1, o.dpi, QCP::ruDotsPerInch);
    } else if (ext == "tif" || ext == "tiff") {
        ok = plot.saveRastered(tmp, w, h, o.dpi / kLogicalDpi * s, "TIFF", -1, o.dpi, QCP::ruDotsPerInch);
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
            painter.scale(s, s);
            plot.toPainter(&painter, w, h);
            painter.end();
        }
    } else if (ext == "svg") {
        QSvgGenerator gen;
        gen.setFileName(tmp);
        const int W = static_cast<int>(w * s + 0.5), H = static_cast<int>(h * s + 0.5);
        gen.setSize(QSize(W, H));
        gen.setViewBox(QRect(0, 0, W, H));
        gen.setResolution(static_cast<int>(kLogicalDpi));
        gen.setTitle(QFileInfo(path).completeBaseName());
        QCPPainter painter;
        ok = painter.begin(&gen);
        if (ok) {
            painter.scale(s, s);
            plot.toPainter(&painter, w, h);
            painter.end();
        }
    } else {
        plot.setBackground(oldBackground);
        throw InputError(path.toStdString() + ": unsupported figure format (use .png, .tif, .pdf or .svg)");
    }
    plot.setBackground(oldBackground);
    if (!ok || !QFile::exists(tmp) || !completeFile(tmp, ext)) {
        QFile::remove(tmp);
        throw Error(path.toStdString() + ": could not write the figure (disk full or not writable?)");
    }
    std::error_code ec;  // rename over the old figure in one step (QFile::rename does not replace)
    std::filesystem::rename(tmp.toStdString(), path.toStdString(), ec);
    if (ec) {
        QFile::remove(tmp);
        throw Error(path.toStdString() + ": could not move the finished figure into place: " + ec.message());
    }

    QJsonObject side = provenance;
    side["figure"] = QFileInfo(path).fileName();
    side["width_in"] = o.widthInches;
    side["height_in"] = o.heightInches;
    side["dpi"] = o.dpi;
    side["transparent"] = o.transparent;
    side["text_scale"] = o.textScale;
    side["software"] = QString("BiasScope ") + BIASSCOPE_VERSION;
    QSaveFile f(path + ".json");
    if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(side).toJson()) < 0 || !f.commit())
        throw Error(path.toStdString() + ".json: could not write the sidecar");
}

}  // namespace biasscope::ui
