#pragma once
// The layers of a model as a two-level tree: groups in the order of the network (embedding,
// block 0..N-1, final layernorm, other, lm_head), tensors inside. Plus the proxy that
// filters (text, compressible only) and sorts it (numbers by value, names naturally).
#include "io/inventory.h"

#include <QAbstractItemModel>
#include <QSortFilterProxyModel>

#include <memory>
#include <vector>

namespace qcw::ui {

class LayerTreeModel : public QAbstractItemModel {
    Q_OBJECT
public:
    enum Column { Name, Kind, Shape, Params, Dtype, Compressible, ColumnCount };
    enum Role {
        SortRole = Qt::UserRole + 1,  // raw value for sorting (numbers as numbers)
        IsGroupRole,                  // bool
        TensorNameRole,               // full tensor name (leaves), group title (groups)
        NaturalOrderRole,             // position in network order
    };

    explicit LayerTreeModel(QObject* parent = nullptr);
    ~LayerTreeModel() override;

    void setSummary(std::shared_ptr<const qcw::ModelSummary> summary);
    const qcw::ModelSummary* summary() const { return summary_.get(); }
    int tensorCount() const;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    struct Group {
        QString title;  // "block 3"
        QString kind;   // "block", "embedding", ...
        std::vector<int> layers;  // indices into summary_->layers
        std::int64_t params = 0;
        int compressible = 0;
        QString dtype;  // common dtype, or "mixed"
    };
    QVariant groupData(const Group& g, int row, int column, int role) const;
    QVariant layerData(const qcw::LayerInfo& l, int order, int column, int role) const;

    std::shared_ptr<const qcw::ModelSummary> summary_;
    std::vector<Group> groups_;
};

class LayerFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit LayerFilterProxy(QObject* parent = nullptr);

    // Whitespace-separated terms, all of which must occur (case-insensitive) in a tensor's
    // name or kind, or in its group's title.
    void setFilterText(const QString& text);
    void setCompressibleOnly(bool on);
    // Tensors (leaves) that pass the filter.
    int visibleTensorCount() const;

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;
    bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;

private:
    bool matches(const QString& haystack) const;
    QStringList terms_;
    bool compressibleOnly_ = false;
};

}  // namespace qcw::ui
