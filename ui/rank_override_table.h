#pragma once
// Per-layer rank overrides: one row per layer (a combo box of the model's compressible layers
// and a rank spin box bounded by min(m, n)), with Add and Remove buttons. The overridden
// layers get these ranks in the compression job; the others keep their searched or uniform ranks.
#include <QString>
#include <QWidget>

#include <map>
#include <string>
#include <utility>
#include <vector>

class QPushButton;
class QTableWidget;

namespace qcw::ui {

class RankOverrideTable : public QWidget {
    Q_OBJECT
public:
    explicit RankOverrideTable(QWidget* parent = nullptr);

    // The compressible layers (names without ".weight") and their largest rank, min(m, n).
    // Removes every row (the names belong to the previous model).
    void setLayers(std::vector<std::pair<QString, int>> layers);
    int maxRankOf(const QString& layer) const;  // 0 for an unknown layer

    // Sets (or adds) the row of `layer`; false (nothing changes) for an unknown layer or a rank
    // outside [1, maxRankOf(layer)].
    bool setRank(const QString& layer, int rank);
    void clearRows();
    int rowCount() const;
    std::map<std::string, int> overrides() const;
    // Enables the table and its buttons (Remove only when there is a row).
    void setEditable(bool on);

signals:
    void rowsChanged();

private:
    int addRow(const QString& layer, int rank);
    std::vector<std::pair<QString, int>> layers_;
    QTableWidget* table_ = nullptr;
    QPushButton* add_ = nullptr;
    QPushButton* remove_ = nullptr;
    bool editable_ = false;
};

}  // namespace qcw::ui
