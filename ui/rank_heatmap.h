#pragma once
// Ranks per layer as a heatmap: one row per decoder block (plus one for maps outside the
// blocks, such as lm_head), one column per kind of map (q_proj, k_proj, ..., fc2), the cell
// coloured by a value (the searched rank, or the kept fraction after compression) and
// labelled with its text.
#include <QString>

#include <qcustomplot.h>

#include <vector>

namespace qcw::ui {

struct RankCell {
    QString name;   // tensor name without ".weight", e.g. "model.layers.3.mlp.fc1"
    double value = 0;
    QString text;   // drawn in the cell (e.g. the rank)
};

// Where a name goes: the block index (-1 outside the blocks) and the column key ("fc1",
// "q_proj"; outside the blocks the whole name's last component, e.g. "lm_head").
struct CellPlace {
    int layer = -1;
    QString kind;
};
CellPlace placeOf(const QString& name);

class RankHeatmap : public QCustomPlot {
    Q_OBJECT
public:
    explicit RankHeatmap(QWidget* parent = nullptr);
    void setCells(std::vector<RankCell> cells, const QString& valueLabel);
    void clearCells();
    const std::vector<RankCell>& cells() const { return cells_; }
    QString valueLabel() const;  // the colour scale's label
    QStringList columns() const { return columns_; }
    int rows() const { return rows_; }
    // The value drawn at (row, column); NaN for an empty cell. Row `rows() - 1` holds the maps
    // outside the blocks when there are any.
    double valueAt(int row, int column) const;

private:
    std::vector<RankCell> cells_;
    QStringList columns_;
    int rows_ = 0;
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
};

}  // namespace qcw::ui
