#include "TableModels.h"

#include <QFile>
#include <QTextStream>
#include <cmath>

#include "common/Error.h"

namespace biasscope::ui {

namespace {

QStringList splitCsvLine(const QString& line, const QString& path, int lineNo) {
    QStringList out;
    QString cur;
    bool quoted = false;
    for (int i = 0; i < line.size(); ++i) {
        const QChar c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
            else if (c == '"') quoted = false;
            else cur += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            out << cur;
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (quoted) throw InputError(path.toStdString() + ":" + std::to_string(lineNo) + ": unterminated quote");
    out << cur;
    return out;
}

bool isNumber(const QString& s, double* v = nullptr) {
    bool ok = false;
    const double d = s.toDouble(&ok);
    if (v) *v = d;
    return ok || s == "nan" || s == "inf" || s == "-inf";
}

QString latexEscape(QString s) {
    s.replace('\\', "\\textbackslash{}");
    for (const char* c : {"&", "%", "$", "#", "_", "{", "}"}) s.replace(c, QString("\\") + c);
    return s;
}

}  // namespace

void CsvTableModel::load(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) throw InputError(path.toStdString() + ": cannot open");
    QTextStream in(&f);
    QStringList header;
    std::vector<QStringList> rows;
    int lineNo = 0;
    while (!in.atEnd()) {
        const QString line = in.readLine();
        ++lineNo;
        if (line.isEmpty()) continue;
        QStringList cells = splitCsvLine(line, path, lineNo);
        if (header.isEmpty()) {
            header = cells;
            continue;
        }
        if (cells.size() != header.size())
            throw InputError(path.toStdString() + ":" + std::to_string(lineNo) + ": " + std::to_string(cells.size()) + " fields, the header has " +
                             std::to_string(header.size()));
        rows.push_back(cells);
    }
    if (header.isEmpty()) throw InputError(path.toStdString() + ": empty table");
    setRows(header, rows);
    source_ = path;
}

void CsvTableModel::setRows(const QStringList& header, const std::vector<QStringList>& rows) {
    beginResetModel();
    header_ = header;
    rows_ = rows;
    numeric_.assign(static_cast<std::size_t>(header.size()), true);
    for (int c = 0; c < header.size(); ++c) {
        bool any = false;
        for (const auto& r : rows_)
            if (!r.value(c).isEmpty()) {
                any = true;
                if (!isNumber(r.value(c))) {
                    numeric_[static_cast<std::size_t>(c)] = false;
                    break;
                }
            }
        if (!any) numeric_[static_cast<std::size_t>(c)] = false;
    }
    endResetModel();
}

int CsvTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int CsvTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(header_.size()); }

QVariant CsvTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid()) return {};
    const QString& s = rows_[static_cast<std::size_t>(index.row())][index.column()];
    const bool numeric = numeric_[static_cast<std::size_t>(index.column())];
    if (role == Qt::DisplayRole) {
        double v = 0;
        if (numeric && isNumber(s, &v) && s.contains('.') && std::isfinite(v)) return QString::number(v, 'g', 5);  // full precision stays in the file
        return s;
    }
    if (role == Qt::UserRole) {  // sort key
        double v = 0;
        if (numeric && isNumber(s, &v)) return s == "nan" ? std::numeric_limits<double>::infinity() : v;
        return s;
    }
    if (role == Qt::ToolTipRole) return s;
    if (role == Qt::TextAlignmentRole && numeric) return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant CsvTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (role != Qt::DisplayRole) return {};
    if (o == Qt::Horizontal) return header_.value(section);
    return section + 1;
}

TableFilter::TableFilter(QObject* parent) : QSortFilterProxyModel(parent) { setSortRole(Qt::UserRole); }

void TableFilter::setMaxQ(double q) {
    maxQ_ = q;
    invalidateFilter();
}
void TableFilter::setLayer(int layer) {
    layer_ = layer;
    invalidateFilter();
}
void TableFilter::setSite(const QString& s) {
    site_ = s;
    invalidateFilter();
}
void TableFilter::setSearch(const QString& text) {
    search_ = text.trimmed();
    invalidateFilter();
}

bool TableFilter::filterAcceptsRow(int row, const QModelIndex&) const {
    const auto* m = qobject_cast<const CsvTableModel*>(sourceModel());
    if (!m) return true;
    const int qc = m->column("q"), lc = m->column("layer"), sc = m->column("site");
    if (qc >= 0 && maxQ_ < 1.0) {
        bool ok = false;
        const double q = m->cell(row, qc).toDouble(&ok);
        if (!ok || !(q <= maxQ_)) return false;
    }
    if (lc >= 0 && layer_ >= 0 && m->cell(row, lc).toInt() != layer_) return false;
    if (sc >= 0 && !site_.isEmpty() && m->cell(row, sc) != site_) return false;
    if (!search_.isEmpty()) {
        bool hit = false;
        for (const char* name : {"label", "label1", "label2", "set", "group", "family"}) {
            const int c = m->column(name);
            if (c >= 0 && m->cell(row, c).contains(search_, Qt::CaseInsensitive)) hit = true;
        }
        if (!hit) return false;
    }
    return true;
}

bool TableFilter::lessThan(const QModelIndex& a, const QModelIndex& b) const {
    const QVariant x = sourceModel()->data(a, Qt::UserRole), y = sourceModel()->data(b, Qt::UserRole);
    if (x.typeId() == QMetaType::Double && y.typeId() == QMetaType::Double) return x.toDouble() < y.toDouble();
    return x.toString() < y.toString();
}

QString TableFilter::toCsv() const {
    const auto* m = qobject_cast<const CsvTableModel*>(sourceModel());
    QString out;
    QStringList h;
    for (int c = 0; c < columnCount(); ++c) h << headerData(c, Qt::Horizontal).toString();
    out += h.join(',') + "\n";
    for (int r = 0; r < rowCount(); ++r) {
        const int src = mapToSource(index(r, 0)).row();
        QStringList cells;
        for (int c = 0; c < columnCount(); ++c) {
            QString s = m ? m->cell(src, c) : data(index(r, c)).toString();
            if (s.contains(',') || s.contains('"')) s = "\"" + s.replace("\"", "\"\"") + "\"";
            cells << s;
        }
        out += cells.join(',') + "\n";
    }
    return out;
}

QString TableFilter::toLatex() const {
    QString out = "\\begin{tabular}{" + QString(columnCount(), 'l') + "}\n\\toprule\n";
    QStringList h;
    for (int c = 0; c < columnCount(); ++c) h << latexEscape(headerData(c, Qt::Horizontal).toString());
    out += h.join(" & ") + " \\\\\n\\midrule\n";
    for (int r = 0; r < rowCount(); ++r) {
        QStringList cells;
        for (int c = 0; c < columnCount(); ++c) cells << latexEscape(data(index(r, c)).toString());
        out += cells.join(" & ") + " \\\\\n";
    }
    return out + "\\bottomrule\n\\end{tabular}\n";
}

}  // namespace biasscope::ui
