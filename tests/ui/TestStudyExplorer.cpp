// The study explorer driven as a user would, on a real store (study run + analyze of a tiny ViT over
// four sets): browse and filter images, relevance and neuron maps follow the selection, a neuron's
// profile across all images equals the store's values, the significance table filters / sorts /
// exports and its rows select label and layer everywhere, a project saved and opened again gives the
// same state, a folder that is not a store is refused with nothing lost; screenshots of every view.
#include <ATen/Parallel.h>
#include <torch/types.h>

#include "TestFixtures.h"
#include "attention/GradCam.h"
#include "io/Safetensors.h"
#include "study/StudyAnalysis.h"
#include "study/NeuronTestTable.h"
#include "study/StudyDefinition.h"
#include "study/StudyRunner.h"
#include "study/StudyStore.h"

#include <QDir>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>

#include <qcustomplot.h>

#include "MainWindow.h"
#include "StudyExplorer.h"
#include "TableModels.h"

using namespace biasscope;
namespace fs = std::filesystem;

namespace {
const std::string kData = BIASSCOPE_TEST_DATA;

// a store of the tiny ViT (ImageNet-like head + a 2-class "gender" head) over four sets of 10 images
std::string makeStore(const fs::path& root) {
    test::writeTinyStudy(root, kData + "/tiny-vit", {{"male", "unmasked"}, {"female", "unmasked"}, {"masked_male", "masked"}, {"masked_female", "masked"}}, 10,
                         48, 48, R"("rule": "cp", "readout": "relevance", "analysis": {"confidence_threshold": 0.0, "top_k": 3})");
    const auto study = study::readStudyDefinition((root / "study.json").string());
    study::StudyRunOptions o;
    o.outDir = (root / "store").string();
    study::runStudy(study, o);
    study::analyzeStudy(o.outDir, (root / "store/analysis").string(), {});
    return o.outDir;
}

void shot(QWidget& w, const QString& name) {
    QDir().mkpath(BIASSCOPE_SCREENSHOT_DIR);
    QVERIFY(w.grab().save(QString(BIASSCOPE_SCREENSHOT_DIR) + "/" + name));
}
}  // namespace

class TestStudyExplorer : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    QString store_;

private slots:
    void initTestCase() {
        at::set_num_threads(2);
        store_ = QString::fromStdString(makeStore(fs::path(tmp_.path().toStdString())));
    }

    void browsesLinksAndRestores() {
        ui::MainWindow w;
        w.resize(1400, 900);
        w.show();
        w.showTab(3);
        ui::StudyExplorer* e = w.studyExplorer();
        QSignalSpy opened(e, &ui::StudyExplorer::storeOpened);
        e->openStore(store_);
        QVERIFY(opened.wait(30000));
        QVERIFY(opened.takeFirst().at(0).toBool());
        QCOMPARE(e->visibleImages(), 40);
        QCOMPARE(e->currentImage(), 0);
        const study::StudyStore store(store_.toStdString());

        // filters: one set; a confidence floor hides exactly the images below it
        e->setSetFilter("masked_female");
        QCOMPARE(e->visibleImages(), 10);
        e->setSetFilter("");
        std::vector<double> conf;
        for (const auto& im : store.images()) conf.push_back(im.confidence);
        std::sort(conf.begin(), conf.end());
        const double floor = conf[20];
        e->setMinConfidence(floor);
        QCOMPARE(e->visibleImages(), static_cast<int>(std::count_if(conf.begin(), conf.end(), [&](double c) { return c >= floor; })));
        e->setMinConfidence(0);

        // counterparts: male3 <-> masked_male3 (file stems differ here: no counterpart), by set pairing when stems match
        QCOMPARE(e->counterpart(3), -1);
        // an image: the input heatmap, the neuron map and the tokens follow it
        e->selectImage(13);
        QCOMPARE(e->currentImage(), 13);
        QVERIFY(e->heatLimit() > 0);
        // where the logit went, under the heatmap (CP-LRP without Gamma: conserved)
        QVERIFY2(e->conservationText().contains("Logit ") && e->conservationText().contains(" = pixels ") && !e->conservationText().contains("Warning"),
                 qPrintable(e->conservationText()));
        // the value under the cursor, and none once another image is drawn (it used to stay from the one before)
        {
            QTest::qWait(50);
            QCustomPlot* plot = e->relevancePlot();
            plot->replot();
            QCPAxisRect* r = plot->axisRects().first();
            const QPoint at(static_cast<int>(r->axis(QCPAxis::atBottom)->coordToPixel(3.5)), static_cast<int>(r->axis(QCPAxis::atLeft)->coordToPixel(4.5)));
            QMouseEvent move(QEvent::MouseMove, QPointF(at), plot->mapToGlobal(QPointF(at)), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
            QCoreApplication::sendEvent(plot, &move);
            QVERIFY2(e->cursorText().startsWith("pixel (3, 4)"), qPrintable(e->cursorText()));
            e->selectImage(14);
            QVERIFY(e->cursorText().isEmpty());
            e->selectImage(13);
        }
        QCOMPARE(e->layerTopKRows(), 2 * 5);  // 2 layers x top-5
        // the token grid reads like the image: patch row 0 drawn at the top, its tick 0 there too
        {
            QCustomPlot* plot = e->tokenPlot();
            auto* map = plot->plottableCount() ? qobject_cast<QCPColorMap*>(plot->plottable(0)) : nullptr;
            QVERIFY(map);
            QCPAxis* rows = plot->axisRects().first()->axis(QCPAxis::atLeft);
            QVERIFY(rows->rangeReversed());
            QVERIFY(rows->coordToPixel(0) < rows->coordToPixel(1));  // row 0 above row 1 on screen
            const at::Tensor t = store.tensor(13, e->currentTarget().toStdString() + "/" + e->currentSite().toStdString() + "_tokens");
            const auto grid = attention::inferTokenGrid(t.size(1));
            const int layer = static_cast<int>(t.size(0)) - 1;
            e->selectLayer(layer);
            map = qobject_cast<QCPColorMap*>(plot->plottable(0));
            QVERIFY(map);
            // cell (column 1, row 0) = token prefix + 1: the first patch row's second patch
            QCOMPARE(static_cast<float>(map->data()->cell(1, 0)), t[layer][grid.prefix + 1].item<float>());
            QCOMPARE(static_cast<float>(map->data()->cell(0, static_cast<int>(grid.rows) - 1)), t[layer][grid.prefix + (grid.rows - 1) * grid.cols].item<float>());
        }

        // a neuron: its value in all 40 images, equal to the store's normalised values
        QSignalSpy ready(e, &ui::StudyExplorer::neuronReady);
        e->selectNeuron(1, 7);
        QVERIFY(ready.wait(30000));
        QCOMPARE(e->profilePoints(), 40);
        const auto p = store.neuron(e->currentTarget().toStdString(), e->currentSite().toStdString(), 1, 7);
        const at::Tensor direct = store.normalisedNeurons(13, e->currentTarget().toStdString(), e->currentSite().toStdString());
        QCOMPARE(p.value[13], direct[1][7].item<float>());
        QVERIFY(e->topKImages() >= 0 && e->topKImages() <= 40);
        // the same by a mouse click on the neuron map: layer 0, neuron 12
        {
            QCustomPlot* plot = e->neuronPlot();
            QCPAxisRect* r = plot->axisRects().first();
            const QPoint at(static_cast<int>(r->axis(QCPAxis::atBottom)->coordToPixel(12)), static_cast<int>(r->axis(QCPAxis::atLeft)->coordToPixel(0)));
            QTest::mouseClick(plot, Qt::LeftButton, {}, at);
            QVERIFY(ready.wait(30000));
            QCOMPARE(e->currentNeuron(), 12);
            QCOMPARE(e->profilePoints(), 40);
        }
        shot(w, "explorer.png");

        // significance table: all tests at q <= 1, sortable, filterable, exportable
        e->significance()->setMaxQ(1.0);
        const int all = e->significanceRows();
        QVERIFY(all > 0);
        e->significance()->setLayer(1);
        QVERIFY(e->significanceRows() < all);
        QVERIFY(e->significance()->toLatex().contains("\\toprule"));
        QCOMPARE(e->significance()->toCsv().count('\n'), e->significanceRows() + 1);
        e->significance()->setLayer(-1);

        // linked selection: label, site and layer everywhere
        e->selectLabelLayer("b", "final", 0);
        QCOMPARE(e->currentTarget(), QString("b"));
        QCOMPARE(e->currentSite(), QString("final"));
        QCOMPARE(e->currentLayer(), 0);
        for (int r = 0; r < e->significanceRows(); ++r) {
            const QString row = e->significance()->data(e->significance()->index(r, 4)).toString() + e->significance()->data(e->significance()->index(r, 5)).toString();
            QVERIFY2(row.contains("b"), qPrintable(row));
        }
        e->analysisTabs()->setCurrentIndex(2);
        shot(w, "explorer-similarity.png");
        e->analysisTabs()->setCurrentIndex(1);
        shot(w, "explorer-consistency.png");
        e->analysisTabs()->setCurrentIndex(0);
        shot(w, "explorer-significance.png");

        // per-neuron tests: the families of neuron_tests.csv, one volcano at a time; a click on a point selects
        // that neuron (and its site) everywhere, and its tests are listed under its profile
        {
            QSignalSpy loaded(e, &ui::StudyExplorer::neuronTestsLoaded);
            if (e->volcanoFamilies().isEmpty()) QVERIFY(loaded.wait(30000));
            const study::NeuronTestIndex index(study::readNeuronTests(store_.toStdString() + "/analysis/neuron_tests.safetensors"));
            QStringList expect;
            for (const auto& f : index.keys()) expect << QString::fromStdString(f);
            QCOMPARE(e->volcanoFamilies(), expect);
            const auto keys = index.keys();
            const std::string family = *std::find_if(keys.begin(), keys.end(), [](const std::string& f) { return f.rfind("paired · male · intermediate", 0) == 0; });
            e->selectVolcanoFamily(QString::fromStdString(family));
            e->analysisTabs()->setCurrentIndex(3);
            const study::NeuronTestFamily& f = *index.family(family);
            int finite = 0;
            std::size_t target = 0;
            for (std::size_t c = 0; c < f.p.size(); ++c) {
                if (!std::isfinite(f.q[c]) || !std::isfinite(f.d[c])) continue;
                ++finite;
                if (f.q[c] < f.q[target] || !std::isfinite(f.q[target])) target = c;  // the strongest: at the top
            }
            QCOMPARE(e->volcanoPoints(), finite);
            QVERIFY(finite > 0);
            QCustomPlot* plot = e->volcanoPlot();
            QTest::qWait(50);  // the tab just became visible: let the plot take its size before reading pixels
            plot->replot();
            QCPAxisRect* r = plot->axisRects().first();
            const QPoint at(static_cast<int>(std::lround(r->axis(QCPAxis::atBottom)->coordToPixel(f.d[target]))),
                            static_cast<int>(std::lround(r->axis(QCPAxis::atLeft)->coordToPixel(-std::log10(f.q[target])))));
            const double px = std::fabs(r->axis(QCPAxis::atBottom)->coordToPixel(1) - r->axis(QCPAxis::atBottom)->coordToPixel(0));
            const double py = std::fabs(r->axis(QCPAxis::atLeft)->coordToPixel(1) - r->axis(QCPAxis::atLeft)->coordToPixel(0));
            QTest::mouseClick(plot, Qt::LeftButton, {}, at);
            QVERIFY(ready.wait(30000));
            QCOMPARE(e->currentSite(), QString("intermediate"));
            const auto state = e->saveState();
            // the selected neuron is the one drawn under the click (ties in (d, q) may pick another of them)
            const std::size_t got = f.cell(state.neuronLayer, state.neuron);
            QVERIFY(std::fabs(f.d[got] - f.d[target]) * px <= 1.0 && std::fabs(std::log10(f.q[got]) - std::log10(f.q[target])) * py <= 1.0);
            QVERIFY2(e->neuronTestText().contains("d = ") && e->neuronTestText().contains(QString::fromStdString(f.comparison)), qPrintable(e->neuronTestText()));
            shot(w, "explorer-volcano.png");
            e->analysisTabs()->setCurrentIndex(0);
            e->selectSite("final");  // back to the linked selection the rest of this test continues from
        }

        // project: save, open in a fresh window, same state
        e->selectImage(27);
        e->selectNeuron(0, 3);
        QVERIFY(ready.wait(30000));
        const QString project = tmp_.filePath("p.biasscope.json");
        w.saveProject(project);
        ui::MainWindow w2;
        w2.resize(1400, 900);
        QSignalSpy opened2(w2.studyExplorer(), &ui::StudyExplorer::storeOpened);
        QSignalSpy ready2(w2.studyExplorer(), &ui::StudyExplorer::neuronReady);
        w2.openProject(project);
        QVERIFY(opened2.wait(30000));
        QVERIFY(ready2.count() > 0 || ready2.wait(30000));
        ui::StudyExplorer* e2 = w2.studyExplorer();
        QCOMPARE(w2.currentTab(), 3);
        QCOMPARE(e2->currentImage(), 27);
        QCOMPARE(e2->currentTarget(), QString("b"));
        QCOMPARE(e2->currentSite(), QString("final"));
        QCOMPARE(e2->currentLayer(), e->currentLayer());
        QCOMPARE(e2->currentNeuron(), 3);
        QCOMPARE(ui::explorerStateToJson(e2->saveState()), ui::explorerStateToJson(e->saveState()));

        // a file that is not a project: refused with its name, the window keeps its state
        {
            QFile bad(tmp_.filePath("bad.biasscope.json"));
            QVERIFY(bad.open(QIODevice::WriteOnly));
            bad.write("{\"format\": \"something else\"}");
        }
        try {
            w2.openProject(tmp_.filePath("bad.biasscope.json"));
            QFAIL("no error");
        } catch (const std::exception& ex) {
            QVERIFY2(QString(ex.what()).contains("bad.biasscope.json"), ex.what());
        }
        QCOMPARE(e2->currentImage(), 27);
        // each known key is typed and bounded: refused with the file and the key, nothing applied
        const std::pair<const char*, const char*> badKeys[] = {
            {R"({"format": "biasscope.project.v1", "tab": 99})", "'tab'"},
            {R"({"format": "biasscope.project.v1", "tab": 1.5})", "'tab'"},
            {R"({"format": "biasscope.project.v1", "attention": {"size": 100000}})", "'attention.size'"},
            {R"({"format": "biasscope.project.v1", "attention": {"map": "lime"}})", "'attention.map'"},
            {R"({"format": "biasscope.project.v1", "attention": {"models": [3]}})", "'attention.models'"},
            {R"({"format": "biasscope.project.v1", "explorer": {"store": 5}})", "'explorer.store'"},
            {R"({"format": "biasscope.project.v1", "explorer": {"neuron": [0]}})", "'explorer.neuron'"},
            {R"({"format": "biasscope.project.v1", "explorer": {"percentile": 1e300}})", "'explorer.percentile'"},
            {R"({"format": "biasscope.project.v1", "settings": {"threads": -1}})", "'settings.threads'"},
            {R"({"format": "biasscope.project.v1", "relevance": []})", "'relevance'"},
            {R"({"format": "biasscope.project.v1", )", "JSON"},
        };
        for (const auto& [text, key] : badKeys) {
            {
                QFile bad(tmp_.filePath("bad.biasscope.json"));
                QVERIFY(bad.open(QIODevice::WriteOnly | QIODevice::Truncate));
                bad.write(text);
            }
            try {
                w2.openProject(tmp_.filePath("bad.biasscope.json"));
                QFAIL(text);
            } catch (const InputError& ex) {
                QVERIFY2(QString(ex.what()).contains("bad.biasscope.json") && QString(ex.what()).contains(key), ex.what());
            }
            QCOMPARE(e2->currentImage(), 27);
            QCOMPARE(w2.currentTab(), 3);
        }
        // a folder that is not a store: refused, the open store stays
        e->openStore(tmp_.path());
        QVERIFY(opened.wait(30000));
        QVERIFY(!opened.takeFirst().at(0).toBool());
        QCOMPARE(e->storeDir(), store_);
        QCOMPARE(e->visibleImages(), 40);
    }

    void opensAStoreWithOneTruncatedRecord() {
        // a copy of the store with one record cut short: the other 39 open, the status names the one left out
        const fs::path copy = fs::path(tmp_.path().toStdString()) / "truncated-store";
        fs::remove_all(copy);
        fs::copy(store_.toStdString(), copy, fs::copy_options::recursive);
        fs::path victim;
        for (const auto& e : fs::recursive_directory_iterator(copy / "relevance"))
            if (e.path().extension() == ".safetensors") {
                victim = e.path();
                break;
            }
        QVERIFY(!victim.empty());
        fs::resize_file(victim, fs::file_size(victim) / 2);
        ui::StudyExplorer e;
        QSignalSpy opened(&e, &ui::StudyExplorer::storeOpened);
        e.openStore(QString::fromStdString(copy.string()));
        QVERIFY(opened.wait(30000));
        QVERIFY(opened.takeFirst().at(0).toBool());
        QCOMPARE(e.visibleImages(), 39);
        QVERIFY2(e.statusText().contains("Warning: 1 unreadable record(s) left out") && e.statusText().contains(QString::fromStdString(victim.filename().string())),
                 qPrintable(e.statusText()));
        // filtered, then another store: the controls reset and so does the grid
        e.setSetFilter("male");
        e.setMinConfidence(0.5);
        QVERIFY(e.visibleImages() < 10);
        e.openStore(store_);
        QVERIFY(opened.wait(30000));
        QVERIFY(opened.takeFirst().at(0).toBool());
        QCOMPARE(e.saveState().minConfidence, 0.0);
        QCOMPARE(e.saveState().setFilter, QString());
        QCOMPARE(e.visibleImages(), 40);
        QVERIFY(!e.statusText().contains("Warning"));
        // every record unreadable: refused with the first one's reason
        for (const auto& f : fs::recursive_directory_iterator(copy / "relevance"))
            if (f.path().extension() == ".safetensors") fs::resize_file(f.path(), 10);
        try {
            study::StudyStore s(copy.string());
            QFAIL("a store of unreadable records opened");
        } catch (const InputError& ex) {
            QVERIFY2(std::string(ex.what()).find("every other record: 40 unreadable") != std::string::npos, ex.what());
        }
    }

    void runsAStudyInTheBackgroundAndCancels() {
        ui::StudyExplorer e;
        const QString studyFile = tmp_.filePath("study.json");
        // cancelled at once: nothing half-written (every stored record reads), a clear message
        QSignalSpy finished(&e, &ui::StudyExplorer::studyRunFinished);
        e.runStudy(studyFile, tmp_.filePath("store-cancelled"));
        QVERIFY(e.jobRunning());
        e.cancelJob();
        QVERIFY(finished.wait(60000));
        QVERIFY(!finished.takeFirst().at(0).toBool());
        QVERIFY2(e.hasStore() == false, "a cancelled run opens nothing");
        const fs::path rel = fs::path(tmp_.filePath("store-cancelled").toStdString()) / "relevance";
        if (fs::exists(rel))
            for (const auto& f : fs::recursive_directory_iterator(rel))
                if (f.path().extension() == ".safetensors") QVERIFY(!io::readSafetensors(f.path().string()).tensors.empty());
        // a full run (resuming the cancelled store) opens the store with its analysis
        QSignalSpy opened(&e, &ui::StudyExplorer::storeOpened);
        e.runStudy(studyFile, tmp_.filePath("store-cancelled"));
        QVERIFY(finished.wait(120000));
        QVERIFY(finished.takeFirst().at(0).toBool());
        QVERIFY(opened.count() > 0 || opened.wait(30000));
        QCOMPARE(e.visibleImages(), 40);
        e.significance()->setMaxQ(1.0);
        QVERIFY(e.significanceRows() > 0);
    }
};

QTEST_MAIN(TestStudyExplorer)
#include "TestStudyExplorer.moc"
