// The table models behind the significance view: CSV parsing (quotes, errors naming file:line),
// numeric columns sorting as numbers, the filter proxy (q, layer, site, search) and CSV / LaTeX
// export of exactly the rows shown.
#include <QTemporaryDir>
#include <QTextStream>
#include <QtTest/QtTest>

#include "TableModels.h"
#include "common/Error.h"

using namespace biasscope;

class TestTableModels : public QObject {
    Q_OBJECT
    static QString write(QTemporaryDir& tmp, const QString& name, const QString& text) {
        QFile f(tmp.filePath(name));
        f.open(QIODevice::WriteOnly);
        QTextStream(&f) << text;
        return tmp.filePath(name);
    }
private slots:
    void parsesSortsFiltersAndExports() {
        QTemporaryDir tmp;
        const QString path = write(tmp, "t.csv",
                                   "family,site,layer,label1,label2,q,note\n"
                                   "paired,final,10,doctor,\"nurse, RN\",0.04,\"said \"\"hi\"\"\"\n"
                                   "paired,final,2,doctor,nurse,0.5,\n"
                                   "paired,intermediate,9,lab coat,nurse,0.001,\n"
                                   "independent,final,2,doctor,,nan,\n");
        ui::CsvTableModel m;
        m.load(path);
        QCOMPARE(m.rowCount(), 4);
        QCOMPARE(m.columnCount(), 7);
        QCOMPARE(m.cell(0, 4), QString("nurse, RN"));
        QCOMPARE(m.cell(0, 6), QString("said \"hi\""));
        ui::TableFilter f;
        f.setSourceModel(&m);
        // numbers sort as numbers: 2, 2, 9, 10 (not "10" < "2")
        f.sort(2, Qt::AscendingOrder);
        QCOMPARE(f.data(f.index(3, 2)).toString(), QString("10"));
        f.sort(5, Qt::AscendingOrder);  // q; NaN last
        QCOMPARE(f.data(f.index(0, 5)).toString(), QString("0.001"));
        QCOMPARE(f.data(f.index(3, 5)).toString(), QString("nan"));
        f.setMaxQ(0.05);  // NaN q is not significant
        QCOMPARE(f.rowCount(), 2);
        f.setSite("final");
        QCOMPARE(f.rowCount(), 1);
        f.setSite("");
        f.setLayer(9);
        QCOMPARE(f.rowCount(), 1);
        f.setLayer(-1);
        f.setSearch("LAB");
        QCOMPARE(f.rowCount(), 1);
        QCOMPARE(f.toCsv(), QString("family,site,layer,label1,label2,q,note\npaired,intermediate,9,lab coat,nurse,0.001,\n"));
        f.setSearch("");
        const QString tex = f.toLatex();
        QVERIFY(tex.startsWith("\\begin{tabular}{lllllll}\n\\toprule\n"));
        QVERIFY(tex.contains("lab coat & nurse & 0.001"));
        QVERIFY(tex.contains("\\bottomrule"));
        QCOMPARE(tex.count("\\\\\n"), 3);  // header + 2 rows with q <= 0.05
    }

    void badFilesAreNamed() {
        QTemporaryDir tmp;
        ui::CsvTableModel m;
        const QString ragged = write(tmp, "ragged.csv", "a,b\n1,2\n3\n");
        try {
            m.load(ragged);
            QFAIL("no error");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("ragged.csv:3"), e.what());
        }
        try {
            m.load(tmp.filePath("absent.csv"));
            QFAIL("no error");
        } catch (const InputError& e) {
            QVERIFY(QString(e.what()).contains("absent.csv"));
        }
        const QString quote = write(tmp, "quote.csv", "a,b\n\"1,2\n");
        QVERIFY_EXCEPTION_THROWN(m.load(quote), InputError);
    }
};

QTEST_MAIN(TestTableModels)
#include "TestTableModels.moc"
