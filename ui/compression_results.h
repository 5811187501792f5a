#pragma once
// The compression pane's results: a summary line per finished job (the search's objective
// against uniform ranks, the compression's parameters, method, calibration and output folder)
// and the per-layer table of the last compression. Selecting a row asks for that layer.
#include "decompose/compress_api.h"
#include "decompose/rank_search.h"

#include <QString>
#include <QWidget>

#include <vector>

class QLabel;
class QTableWidget;

namespace qcw::ui {

// "64, 32": a layer's ranks (or bonds) as the table shows them.
QString ranksText(const std::vector<int>& ranks);

class CompressionResults : public QWidget {
    Q_OBJECT
public:
    explicit CompressionResults(QWidget* parent = nullptr);

    void clear();         // summary and table
    void clearSummary();
    void clearTable();
    void showSearch(const qcw::RankSearchResult& r);
    // `seconds`: the whole job's time; the summary line is appended to a search's.
    void showReport(const qcw::CompressionReport& r, const QString& outDir, double seconds);

signals:
    void layerSelected(const QString& layer);

private:
    QLabel* summary_ = nullptr;
    QTableWidget* table_ = nullptr;
};

}  // namespace qcw::ui
