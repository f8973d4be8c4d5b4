#pragma once
// Tables of analysis outputs (ttests.csv, similarity.csv, ...) as Qt models: a CSV-backed
// QAbstractTableModel whose numeric columns sort as numbers, and a filter proxy (q at most a value,
// one layer, one site, text search in label columns) with CSV and LaTeX export of what is shown.
#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QStringList>
#include <vector>

namespace biasscope::ui {

class CsvTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    using QAbstractTableModel::QAbstractTableModel;
    // Reads a CSV with a header row (quoted fields allowed). Throws biasscope::InputError naming the file and line.
    void load(const QString& path);
    void setRows(const QStringList& header, const std::vector<QStringList>& rows);
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    int column(const QString& name) const { return header_.indexOf(name); }
    QString cell(int row, int column) const { return rows_[static_cast<std::size_t>(row)].value(column); }
    const QString& source() const { return source_; }

private:
    QStringList header_;
    std::vector<QStringList> rows_;
    std::vector<bool> numeric_;
    QString source_;
};

class TableFilter : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit TableFilter(QObject* parent = nullptr);
    void setMaxQ(double q);          // rows with q > this are hidden (NaN q hidden too when q < 1)
    void setLayer(int layer);        // -1: all
    void setSite(const QString& s);  // empty: all
    void setSearch(const QString& text);
    QString toCsv() const;    // the rows shown, in the shown order
    QString toLatex() const;  // a booktabs tabular of the rows shown

protected:
    bool filterAcceptsRow(int row, const QModelIndex& parent) const override;
    bool lessThan(const QModelIndex& a, const QModelIndex& b) const override;

private:
    double maxQ_ = 1.0;
    int layer_ = -1;
    QString site_, search_;
};

}  // namespace biasscope::ui
