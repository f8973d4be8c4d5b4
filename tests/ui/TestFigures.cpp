// The figure builders (ui/figures), beyond "a file was written": colours map the right values to the
// right cells, limits are symmetric, non-significant cells are hidden / faded / outlined, no title
// or caption is clipped at one-column width, and exports have the requested size and resolution.
#include <torch/types.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <cmath>
#include <limits>

#include <qcustomplot.h>

#include "ExportMenu.h"
#include "common/Error.h"
#include "io/Safetensors.h"
#include "figures/ConsistencyFigure.h"
#include "figures/FigureExport.h"
#include "figures/FigureText.h"
#include "figures/RelevanceMaps.h"
#include "figures/SimilarityHeatmap.h"

using namespace biasscope;

namespace {

constexpr int kOneColumn = 336;  // 3.5 in at the 96 DPI layout resolution

QColor pixelAt(QCustomPlot& plot, QCPAxisRect* rect, double x, double y) {
    const QImage img = plot.toPixmap(plot.width(), plot.height(), 1.0).toImage();
    const int px = static_cast<int>(std::lround(rect->axis(QCPAxis::atBottom)->coordToPixel(x)));
    const int py = static_cast<int>(std::lround(rect->axis(QCPAxis::atLeft)->coordToPixel(y)));
    return img.pixelColor(px, py);
}

QCPAxisRect* mainRect(QCustomPlot& plot) { return plot.axisRects().value(0); }

// every text element fits the plot width, line by line, and lies inside the plot
void expectNoClippedText(QCustomPlot& plot) {
    plot.setViewport(plot.rect());  // a hidden widget gets no resize event; exports set the viewport the same way
    plot.replot();
    int texts = 0;
    for (QCPLayoutElement* el : plot.plotLayout()->elements(true)) {
        auto* t = qobject_cast<QCPTextElement*>(el);
        if (!t) continue;
        ++texts;
        const QFontMetrics fm(t->font());
        for (const QString& line : t->text().split('\n'))
            QVERIFY2(fm.horizontalAdvance(line) <= plot.width(), qPrintable("clipped: " + line));
        const QRect r = t->outerRect();
        QVERIFY2(plot.rect().contains(r), qPrintable(QString("outside the %1x%2 figure (%3,%4 %5x%6): ").arg(plot.width()).arg(plot.height()).arg(r.x()).arg(r.y()).arg(r.width()).arg(r.height()) + t->text()));
    }
    QVERIFY(texts >= 2);  // title and caption
}

const QString kLongTitle = "Cosine similarity of every ImageNet label's relevance to the gender relevance (masked female, block output)";
const QString kLongCaption = "Cells with FDR q ≥ 0.05 are hidden (as published). Mean over images with confidence ≥ 0.9; one-sample t-test, "
                             "Benjamini-Hochberg over all cells of this set and site.";

}  // namespace

class TestFigures : public QObject {
    Q_OBJECT
private slots:
    void symmetricLimitIsAPercentileOfMagnitudes() {
        const float v[] = {-4.f, 1.f, 2.f, 3.f, std::numeric_limits<float>::quiet_NaN()};
        QCOMPARE(ui::symmetricLimit(v, 5), 4.0);        // max |v|, NaN ignored
        QCOMPARE(ui::symmetricLimit(v, 5, 50.0), 2.0);  // median of {1, 2, 3, 4}
        const float zeros[] = {0.f, 0.f};
        QCOMPARE(ui::symmetricLimit(zeros, 2), 1.0);  // all-zero map: a white map, not a division by zero
    }

    void wrappingKeepsEveryWordAndTheWidth() {
        const QFont f("sans", 10, QFont::Bold);
        const QString w = ui::wrapText(kLongTitle, f, 200);
        QVERIFY(w.count('\n') >= 2);
        for (const QString& line : w.split('\n')) QVERIFY(QFontMetrics(f).horizontalAdvance(line) <= 200);
        QCOMPARE(w.split(QRegularExpression("\\s+")), kLongTitle.split(' '));
    }

    void layerMapColoursAreSymmetricBlueWhiteRed() {
        QCustomPlot plot;
        plot.resize(600, 300);
        ui::LayerMap m{2, 4, {2.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, -1.f}, "neuron"};  // layer 0: +2 at neuron 0; layer 1: -1 at neuron 3
        const double lim = ui::buildLayerMapFigure(plot, "t", m, 0, "c");
        QCOMPARE(lim, 2.0);
        auto* map = qobject_cast<QCPColorMap*>(plot.plottable(0));
        QVERIFY(map);
        QCOMPARE(map->dataRange().lower, -2.0);
        QCOMPARE(map->dataRange().upper, 2.0);
        QCPAxisRect* rect = mainRect(plot);
        const QColor hot = pixelAt(plot, rect, 0, 0), cold = pixelAt(plot, rect, 3, 1), zero = pixelAt(plot, rect, 1, 0);
        QVERIFY2(hot.red() > 240 && hot.blue() < 20, qPrintable(hot.name()));      // +limit: full red
        QVERIFY2(cold.blue() > 240 && cold.red() > 100 && cold.red() < 160, qPrintable(cold.name()));  // -limit/2: half-saturated blue
        QVERIFY2(zero.red() > 245 && zero.green() > 245 && zero.blue() > 245, qPrintable(zero.name()));  // 0: white
        QVERIFY_EXCEPTION_THROWN(ui::buildLayerMapFigure(plot, "t", {2, 4, {1.f}, "neuron"}, 0, ""), InputError);
    }

    void overlayShowsSignOnTheImage() {
        QCustomPlot plot;
        plot.resize(500, 400);
        std::vector<float> heat(16 * 16, 0.f);
        for (int y = 0; y < 16; ++y)
            for (int x = 0; x < 8; ++x) heat[static_cast<std::size_t>(y * 16 + x)] = 1.f;  // left half positive
        ui::OverlayOptions o;
        o.alpha = 1.0;
        const double lim = ui::buildInputOverlayFigure(plot, "t", QImage(), heat.data(), 16, 16, o, "c");
        QCOMPARE(lim, 1.0);
        QCPAxisRect* rect = mainRect(plot);
        const QColor left = pixelAt(plot, rect, 4, 8), right = pixelAt(plot, rect, 12, 8);
        QVERIFY2(left.red() > 240 && left.green() < 20, qPrintable(left.name()));
        QVERIFY2(right.green() > 240 && right.blue() > 240, qPrintable(right.name()));
        // square pixels: one input pixel is as wide as it is tall on screen
        const double dx = rect->axis(QCPAxis::atBottom)->coordToPixel(1) - rect->axis(QCPAxis::atBottom)->coordToPixel(0);
        const double dy = rect->axis(QCPAxis::atLeft)->coordToPixel(1) - rect->axis(QCPAxis::atLeft)->coordToPixel(0);
        QVERIFY2(std::abs(std::abs(dx) - std::abs(dy)) < 0.01, qPrintable(QString("%1 vs %2").arg(dx).arg(dy)));
    }

    void significanceStylesHideFadeOutline() {
        ui::LabelLayerGrid g{{"labcoat", "jeans"}, 3, {0.5, -0.5, 0.2, 0.9, 0.1, -0.9}, {true, false, false, true, true, false}};
        QCustomPlot plot;
        plot.resize(600, 300);
        ui::buildSimilarityHeatmap(plot, "t", g, ui::SignificanceStyle::Hide, "c");
        auto* map = qobject_cast<QCPColorMap*>(plot.plottable(0));
        QCOMPARE(map->dataRange().lower, -1.0);
        QCOMPARE(map->dataRange().upper, 1.0);
        // labcoat is the top row (row index 1), jeans the bottom (0)
        QCOMPARE(map->data()->cell(0, 1), 0.5);
        QVERIFY(std::isnan(map->data()->cell(1, 1)));  // labcoat layer 1 not significant: hidden
        QCOMPARE(map->data()->cell(0, 0), 0.9);
        QCOMPARE(plot.itemCount(), 0);
        const QColor hidden = pixelAt(plot, mainRect(plot), 1, 1), shown = pixelAt(plot, mainRect(plot), 0, 0);
        QVERIFY2(hidden == QColor(Qt::white), qPrintable(hidden.name()));
        QVERIFY2(shown.red() > 150 && shown.blue() < 100, qPrintable(shown.name()));  // +0.9 in coolwarm: red
        ui::buildSimilarityHeatmap(plot, "t", g, ui::SignificanceStyle::Fade, "c");
        QCOMPARE(plot.itemCount(), 3);  // the non-significant cells get a white veil
        QCOMPARE(qobject_cast<QCPColorMap*>(plot.plottable(0))->data()->cell(1, 1), -0.5);
        ui::buildSimilarityHeatmap(plot, "t", g, ui::SignificanceStyle::Outline, "c");
        QCOMPARE(plot.itemCount(), 3);  // the significant cells get a frame
        QVERIFY_EXCEPTION_THROWN(ui::parseSignificanceStyle("blur"), InputError);
        ui::LabelLayerGrid sem{{"a"}, 2, {0.1, 0.3}, {}};
        ui::buildSemHeatmap(plot, "t", sem, "");
        QCOMPARE(qobject_cast<QCPColorMap*>(plot.plottable(0))->dataRange().upper, 0.3);
    }

    void noTextIsClippedAtOneColumnWidth() {
        QCustomPlot plot;
        plot.resize(kOneColumn, 300);
        ui::LabelLayerGrid g{{"labcoat", "jeans"}, 12, std::vector<double>(24, 0.3), std::vector<bool>(24, true)};
        ui::buildSimilarityHeatmap(plot, kLongTitle, g, ui::SignificanceStyle::Hide, kLongCaption);
        expectNoClippedText(plot);
        ui::buildLayerMapFigure(plot, kLongTitle, {12, 3072, std::vector<float>(12 * 3072, 1.f), "post-GELU neuron"}, 0, kLongCaption);
        expectNoClippedText(plot);
        ui::buildConsistencyFigure(plot, kLongTitle, {{"Male, block output", std::vector<double>(12, 50.0), Qt::blue, true, true}}, kLongCaption);
        expectNoClippedText(plot);
        QCOMPARE(plot.graphCount(), 1);
    }

    void exportHasTheRequestedSizeAndProvenance() {
        QTemporaryDir tmp;
        QCustomPlot plot;
        plot.resize(kOneColumn, 192);
        ui::buildConsistencyFigure(plot, "Consistency", {{"Male", {10, 20, 30}, Qt::red, false, false}}, "caption");
        const ui::FigureExportOptions o{3.5, 2.0, 200, false};
        QJsonObject prov;
        prov["input"] = "x";
        ui::exportFigure(plot, tmp.filePath("f.png"), o, prov);
        const QImage png(tmp.filePath("f.png"));
        QCOMPARE(png.width(), 700);
        QCOMPARE(png.height(), 400);
        QVERIFY(std::abs(png.dotsPerMeterX() - 200 / 0.0254) < 2);
        ui::exportFigure(plot, tmp.filePath("f.pdf"), o, prov);
        QFile pdf(tmp.filePath("f.pdf"));
        QVERIFY(pdf.open(QIODevice::ReadOnly));
        const QString pdfText = QString::fromLatin1(pdf.readAll());
        QVERIFY2(pdfText.contains(QRegularExpression("/MediaBox \\[0 0 252(\\.0+)? 144(\\.0+)?\\]")), "page is not 3.5 x 2 in");  // in points
        ui::exportFigure(plot, tmp.filePath("f.svg"), o, prov);
        QFile svg(tmp.filePath("f.svg"));
        QVERIFY(svg.open(QIODevice::ReadOnly));
        const QByteArray s = svg.readAll();
        QVERIFY(s.contains("<text") && s.contains("Consistency"));  // vector text
        QFile side(tmp.filePath("f.png.json"));
        QVERIFY(side.open(QIODevice::ReadOnly));
        const QJsonObject j = QJsonDocument::fromJson(side.readAll()).object();
        QCOMPARE(j["dpi"].toInt(), 200);
        QCOMPARE(j["input"].toString(), QString("x"));
        QVERIFY_EXCEPTION_THROWN(ui::exportFigure(plot, tmp.filePath("f.bmp"), o, prov), InputError);
        QVERIFY_EXCEPTION_THROWN(ui::exportFigure(plot, tmp.filePath("absent/f.png"), o, prov), Error);
        QVERIFY(!QFile::exists(tmp.filePath("f.bmp")));
    }

    void textPresetScalesTextNotThePage() {
        // the slide preset draws text 1.4x larger on the same page: fewer, larger glyph pixels, same size
        QTemporaryDir tmp;
        QCustomPlot plot;
        plot.resize(kOneColumn, 192);
        ui::buildConsistencyFigure(plot, "Consistency", {{"Male", {10, 20, 30}, Qt::red, false, false}}, "caption");
        ui::FigureExportOptions o{3.5, 2.0, 200, false};
        ui::exportFigure(plot, tmp.filePath("paper.png"), o, {});
        o.textScale = 1.4;
        ui::exportFigure(plot, tmp.filePath("slide.png"), o, {});
        const QImage a(tmp.filePath("paper.png")), b(tmp.filePath("slide.png"));
        QCOMPARE(b.size(), a.size());
        // the title's height in dark pixel rows grows with the text scale
        auto titleRows = [](const QImage& img) {
            int rows = 0;
            for (int y = 0; y < img.height() / 4; ++y) {
                bool dark = false;
                for (int x = 0; x < img.width() && !dark; ++x) dark = qGray(img.pixel(x, y)) < 100;
                rows += dark;
            }
            return rows;
        };
        QVERIFY2(titleRows(b) > titleRows(a) * 1.2, qPrintable(QString("title rows %1 vs %2").arg(titleRows(b)).arg(titleRows(a))));
        QFile side(tmp.filePath("slide.png.json"));
        QVERIFY(side.open(QIODevice::ReadOnly));
        QCOMPARE(QJsonDocument::fromJson(side.readAll()).object()["text_scale"].toDouble(), 1.4);
        QVERIFY_EXCEPTION_THROWN(ui::exportFigure(plot, tmp.filePath("x.png"), {3.5, 2.0, 200, false, 0.0}, {}), InputError);
    }

    void plotDataExportsTheNumbersBehindThePlot() {
        QTemporaryDir tmp;
        QCustomPlot plot;
        plot.resize(kOneColumn, 240);
        ui::LayerMap m;
        m.layers = 2;
        m.columns = 3;
        m.values = {1, -2, 3, 0.5f, 0, -1};
        ui::buildLayerMapFigure(plot, "map", m, 0, {});
        QJsonObject prov;
        prov["view"] = "test";
        ui::exportPlotData(plot, tmp.filePath("m.csv"), prov);
        QFile csv(tmp.filePath("m.csv"));
        QVERIFY(csv.open(QIODevice::ReadOnly));
        QCOMPARE(QString(csv.readAll()), QString("1,-2,3\n0.5,0,-1\n"));
        ui::exportPlotData(plot, tmp.filePath("m.safetensors"), prov);
        const auto t = io::readSafetensors(tmp.filePath("m.safetensors").toStdString()).tensors.front().second;
        QCOMPARE(t.sizes().vec(), (std::vector<std::int64_t>{2, 3}));
        QCOMPARE(t[1][2].item<float>(), -1.f);
        QFile side(tmp.filePath("m.safetensors.json"));
        QVERIFY(side.open(QIODevice::ReadOnly));
        const QJsonObject j = QJsonDocument::fromJson(side.readAll()).object();
        QCOMPARE(j["view"].toString(), QString("test"));
        QCOMPARE(j["rows"].toInt(), 2);
        // curves: long form
        ui::buildConsistencyFigure(plot, "Consistency", {{"Male", {10, 20}, Qt::red, false, false}}, "");
        ui::exportPlotData(plot, tmp.filePath("c.csv"), {});
        QFile c(tmp.filePath("c.csv"));
        QVERIFY(c.open(QIODevice::ReadOnly));
        QCOMPARE(QString(c.readAll()), QString("series,x,y\nMale,0,10\nMale,1,20\n"));
        QVERIFY_EXCEPTION_THROWN(ui::exportPlotData(plot, tmp.filePath("c.txt"), {}), InputError);
    }
};

QTEST_MAIN(TestFigures)
#include "TestFigures.moc"
